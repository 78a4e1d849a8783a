"""The embedded localstripe launcher (``travelsim.stripe_local``, ``stripe_local_server``)
over real HTTP and real processes: loopback only, a store per run that survives a restart,
debounced atomic writes, the portal's webhook registered and signed, nothing in
``/tmp/localstripe.pickle``, nothing left running."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from tests.harness import ROOT, free_port, localstripe_pids
from tests.stripe_support import (
    CARD_OK,
    SECRET_KEY,
    RunningLocalStripe,
    card_token,
    running_localstripe,
    signed_event_headers,
)
from travelsim.settings import Settings
from travelsim.stripe_config import stripe_config
from travelsim.stripe_local import LocalStripe, LocalStripeError, answers, ensure_started

AUTH = (SECRET_KEY, "")
HTTP = httpx.Client(timeout=10)  # one client: a new one per request costs ~60 ms here


def create_customer(base: str, email: str) -> str:
    response = HTTP.post(f"{base}/v1/customers", data={"email": email}, auth=AUTH)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def get_customer(base: str, cus_id: str) -> httpx.Response:
    return HTTP.get(f"{base}/v1/customers/{cus_id}", auth=AUTH)


def listeners(port: int) -> list[str]:
    """Local addresses listening on TCP ``port`` (hex as in /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


def non_loopback_addresses() -> list[str]:
    """This host's IPv4 addresses other than 127.0.0.0/8 (from the routing table's view)."""
    found = set()
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found |= {str(info[4][0]) for info in infos}
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
            found.add(s.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in found if not a.startswith("127."))


class Receiver:
    """A tiny webhook receiver on 127.0.0.1: records every POST (path, headers, body)."""

    def __init__(self, port: int | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((self.path, dict(self.headers.items()), body))
                outer._got.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/stripe/webhook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, event_type: str, timeout: float = 15) -> tuple[str, dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in self.requests:
                if json.loads(request[2]).get("type") == event_type:
                    return request
            self._got.wait(0.2)
            self._got.clear()
        raise AssertionError(f"no {event_type} within {timeout} s: {len(self.requests)} posts")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[RunningLocalStripe]:
    with running_localstripe(tmp_path / "run") as running:
        yield running


def test_listens_on_ipv4_loopback_only(run: RunningLocalStripe) -> None:
    assert listeners(run.port) == ["0100007F"]  # 127.0.0.1, and nothing on tcp6 (no ::)
    with pytest.raises(OSError), socket.create_connection(("::1", run.port), timeout=2):
        pass
    assert answers(run.base)


def test_a_non_loopback_address_of_this_host_is_refused(run: RunningLocalStripe) -> None:
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this host has no non-loopback IPv4 address to try")
    for address in addresses:
        with pytest.raises(OSError), socket.create_connection((address, run.port), timeout=2):
            pass


def test_two_runs_have_separate_stores(tmp_path: Path) -> None:
    with (
        running_localstripe(tmp_path / "a") as a,
        running_localstripe(tmp_path / "b") as b,
    ):
        cus = create_customer(a.base, "a@example.com")
        assert get_customer(a.base, cus).status_code == 200
        assert get_customer(b.base, cus).status_code == 404
    assert a.store_path != b.store_path


def test_the_store_survives_a_restart_on_the_same_path(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with running_localstripe(folder) as first:
        cus = create_customer(first.base, "kept@example.com")
        # stopped at once: the debounced write must still happen at shutdown
    with running_localstripe(folder) as second:
        response = get_customer(second.base, cus)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "kept@example.com"


def test_writes_are_debounced_and_atomic(tmp_path: Path) -> None:
    with running_localstripe(tmp_path / "d") as run:
        started = time.monotonic()
        ids = [create_customer(run.base, f"c{i}@example.com") for i in range(200)]
        elapsed = time.monotonic() - started
    # 200 POSTs (each several store writes in localstripe) → at most one write per second
    # plus the one at shutdown (and one for a partly elapsed second).
    [writes] = [int(n) for n in re.findall(r"\((\d+) writes", run.log())]
    assert 1 <= writes <= int(elapsed) + 3, (writes, elapsed)
    assert [
        p.name for p in run.store_path.parent.iterdir() if p.name.startswith("localstripe.pickle.")
    ] == []
    with running_localstripe(tmp_path / "d") as again:
        assert all(get_customer(again.base, cus).status_code == 200 for cus in ids[-3:])


def test_tmp_localstripe_pickle_is_not_written(run: RunningLocalStripe) -> None:
    shared = Path("/tmp/localstripe.pickle")
    before = shared.stat().st_mtime_ns if shared.exists() else None
    cus = create_customer(run.base, "private@example.com")
    token = run.card_token(CARD_OK)
    run.process.stop()
    assert run.store_path.is_file() and cus.encode() in run.store_path.read_bytes()
    if shared.exists():  # another program may use it; ours must not be in it
        data = shared.read_bytes()
        assert cus.encode() not in data and token.encode() not in data
        if before is None:
            pytest.fail("/tmp/localstripe.pickle appeared during the run")


def test_the_store_file_is_private(run: RunningLocalStripe) -> None:
    create_customer(run.base, "mode@example.com")
    run.process.stop()
    assert run.store_path.stat().st_mode & 0o077 == 0  # tokens inside: owner only


def test_webhook_registration_reaches_a_loopback_receiver_signed(
    run: RunningLocalStripe, receiver: Receiver
) -> None:
    secret = "whsec_test_registration"
    run.register_webhook(receiver.url(), secret)
    customer = run.client().v1.customers.create(params={"email": "hook@example.com"})
    path, headers, body = receiver.wait_for("customer.created")
    assert path == "/stripe/webhook"
    event = stripe.Webhook.construct_event(
        body.decode(), headers["Stripe-Signature"], secret, tolerance=300
    )
    assert event.type == "customer.created"
    assert event.data.object["id"] == customer.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], "whsec_other")


def test_signed_event_headers_verify_like_stripes() -> None:
    payload = b'{"id": "evt_1", "object": "event", "type": "charge.refunded"}'
    headers = signed_event_headers(payload, "whsec_x")
    event = stripe.Webhook.construct_event(
        payload.decode(), headers["Stripe-Signature"], "whsec_x", tolerance=300
    )
    assert event.id == "evt_1"
    stale = signed_event_headers(payload, "whsec_x", timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload.decode(), stale["Stripe-Signature"], "whsec_x", tolerance=300
        )


def test_card_token_is_what_stripe_js_makes(run: RunningLocalStripe) -> None:
    token = card_token(run.base, CARD_OK)
    response = httpx.get(f"{run.base}/v1/tokens/{token}", auth=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["card"]["last4"] == "4242"


def test_a_taken_port_is_an_error_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalStripeError, match="exited with status 2"):
            LocalStripe().start(port, tmp_path / "s.pickle", log_path=tmp_path / "l.log")
    assert localstripe_pids(port) == []


def test_stop_ends_the_process(tmp_path: Path) -> None:
    port = free_port()
    local = LocalStripe().start(port, tmp_path / "s.pickle", log_path=tmp_path / "l.log")
    assert localstripe_pids(port) == [local.proc.pid if local.proc else -1]
    local.stop()
    local.stop()  # idempotent
    assert localstripe_pids(port) == [] and not answers(f"http://127.0.0.1:{port}")


def test_a_launcher_killed_outright_leaves_no_localstripe(tmp_path: Path) -> None:
    """The app's way (``own_group=False``, ``--exit-with-parent``): the parent dies by SIGKILL
    (no lifespan shutdown runs) and its localstripe stops by itself, store saved."""
    port = free_port()
    code = (
        "import sys, time; from pathlib import Path;"
        "from travelsim.stripe_local import LocalStripe;"
        f"LocalStripe(own_group=False).start({port}, Path({str(tmp_path / 's.pickle')!r}),"
        f" log_path=Path({str(tmp_path / 'l.log')!r}));"
        "print('ready', flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == b"ready"
        [pid] = localstripe_pids(port)
        create_customer(f"http://127.0.0.1:{port}", "orphan@example.com")
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while localstripe_pids(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert localstripe_pids(port) == [], "localstripe outlived its parent"
        assert b"orphan@example.com" in (tmp_path / "s.pickle").read_bytes()
    finally:
        for pid in localstripe_pids(port):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()


# --- ensure_started: what the app does at start ---------------------------------------------


def app_settings(tmp_path: Path, backend_port: int, **env: str) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "data_dir": str(tmp_path / "data"),
        "backend_port": str(backend_port),
        "stripe_local_port": str(free_port()),
        "secret_key": "s" * 40,
    }
    values.update(env)
    return Settings(_env_file=None, **values)


def test_ensure_started_starts_one_registers_the_webhook_and_the_next_only_registers(
    tmp_path: Path,
) -> None:
    receiver = Receiver()  # stands in for the app's backend port
    try:
        settings = app_settings(tmp_path, receiver.port)
        config = stripe_config(settings)
        started = ensure_started(settings)
        assert started is not None
        try:
            assert started.base_url == config.api_base
            assert started.store_path == settings.data_dir / "localstripe.pickle"
            assert (settings.data_dir / "localstripe.log").is_file()
            again = ensure_started(settings)  # another worker: it answers already
            assert again is None
            assert len(localstripe_pids(settings.stripe_local_port)) == 1
            client = stripe.StripeClient(
                config.secret_key,
                base_addresses={"api": config.api_base},
                http_client=stripe.HTTPXClient(allow_sync_methods=True),
            )
            client.v1.customers.create(params={"email": "portal@example.com"})
            path, headers, body = receiver.wait_for("customer.created")
            assert path == "/stripe/webhook"
            stripe.Webhook.construct_event(
                body.decode(), headers["Stripe-Signature"], config.webhook_secret, tolerance=300
            )
        finally:
            started.stop()
        assert localstripe_pids(settings.stripe_local_port) == []
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    "env",
    [
        {"app_env": "production"},
        {
            "stripe_secret_key": "sk_test_x",
            "stripe_publishable_key": "pk_test_x",
            "stripe_webhook_secret": "whsec_x",
        },
        {"stripe_api_base": "http://127.0.0.1:9"},
    ],
)
def test_ensure_started_starts_nothing_without_the_embedded_config(
    tmp_path: Path, env: dict[str, str]
) -> None:
    settings = app_settings(tmp_path, free_port(), **env)
    assert ensure_started(settings) is None
    assert localstripe_pids(settings.stripe_local_port) == []


def test_the_session_fixture_points_stripe_config_at_it(localstripe: RunningLocalStripe) -> None:
    from travelsim.settings import get_settings

    config = stripe_config(get_settings())
    assert config.api_base == localstripe.base and config.local
    assert answers(config.api_base)
    assert config.js_url == f"{localstripe.base}/js.stripe.com/v3/"
    assert httpx.get(config.js_url, timeout=5).status_code == 200
