"""More than one backend worker (``docs/architecture.md#several-workers``): Redis state
manager, PostgreSQL, the standalone simulator, two Granian workers behind one port, one
traveler in a real browser.

The deployment is the documented one for several workers: ``REDIS_URL`` (Reflex keeps each
tab's state in Redis, and ``services.live`` relays "figures changed" between workers),
``DATABASE_URL`` on PostgreSQL, ``SFT_BASE_URL`` pointing at ``python -m
travelsim.sft_simulator serve`` in its own process, and ``reflex run --env prod`` with
``GRANIAN_WORKERS=2``.

Which worker serves a tab is read from Reflex's own record in Redis
(``token_manager_socket_record_<tab token>``: the owning process' ``instance_id``), so the
test can move a tab to the other worker (reload until its websocket lands there) at the
steps where it matters, and prove that:

- one purchase flows across both workers: checkout page on one, payment on the other,
  install page on the first again; exactly one payment, the endpoint Active with exactly one
  add-on (the simulator's own records), QR text equal to the platform's activation code;
- a dashboard open on worker A updates when the traveler presses "Refresh now" in another tab
  served by worker B, with the page poll set to 10 minutes (``LIVE_POLL_SECONDS=600``), so
  only the Redis relay can carry it;
- together the workers never exceed the SFT budget: the simulator enforces the portal's
  ``SFT_RATE_LIMIT_TPS`` and its own call log shows no 429;
- exactly one scheduler runs: both workers start one (their log lines), every recorded job
  run has the same holder, and that holder is one of the two workers.

The processes and databases come from the shared harness (``tests/harness.py``): a scratch
PostgreSQL database, Redis (skipped with the reason locally when absent, failing in CI), the
standalone simulator, ``reflex run --env prod`` on a free port with its own DATA_DIR (kept,
with the logs, when a test failed).

Run it in its own pytest process (Playwright's sync API):
``pytest -q tests/load/test_workers_browser.py``.
"""

from __future__ import annotations

import pickle
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import browser  # noqa: F401 - fixture
from tests.e2e.stripe_card import fill_card
from tests.harness import (
    DESKTOP,
    REDIS_URL,
    SimProcess,
    app_environment,
    create_pg_database,
    drop_pg_database,
    keep_test_data,
    redis_client,
    seed,
    start_app,
)
from tests.integration.sim_fixtures import SimApi
from tests.load.test_workers import max_in_window
from travelsim.cli import DEMO_EMAIL, DEMO_PASSWORD
from travelsim.formatting import format_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

MB = 1024 * 1024
SOCKET_RECORD = "token_manager_socket_record_{token}"
BUDGET_TPS = 10  # the portal's SFT_RATE_LIMIT_TPS and the simulator's limit


@dataclass
class Cluster:
    url: str
    sim_url: str
    database_url: str
    redis: redis.Redis
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    r = redis_client()
    database_url = create_pg_database()
    env = app_environment(
        "workers",
        app_env="demo",
        extra={
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "SFT_RATE_LIMIT_TPS": str(BUDGET_TPS),
            "GRANIAN_WORKERS": "2",
            "LIVE_POLL_SECONDS": "600",
            "LOG_LEVEL": "INFO",
        },
    )
    data_dir = Path(env["DATA_DIR"])
    sim = app = None
    started = False
    try:
        sim = SimProcess(data_dir / "sim.db", rate_limit_tps=BUDGET_TPS, env=env)
        env["SFT_BASE_URL"] = sim.url
        seed(env)
        app = start_app(env)
        started = True
        yield Cluster(app.url, sim.url, database_url, r, app.log_path)
    finally:
        if app is not None:
            app.stop(keep_data=True)  # DATA_DIR (logs of both processes) handled below
        if sim is not None:
            sim.stop()
        drop_pg_database(database_url)
        if started and not request.session.testsfailed and not keep_test_data():
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"\n[harness] cluster data and logs kept: {data_dir}", file=sys.stderr)


def socket_record(cluster: Cluster, page: Page) -> tuple[str, str] | None:
    """(instance_id, sid) of the worker holding this tab's websocket, from Reflex's record."""
    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    if not token:
        return None
    raw = cluster.redis.get(SOCKET_RECORD.format(token=token))
    if raw is None:
        return None
    record = pickle.loads(raw)  # written by reflex.utils.token_manager (trusted, local)
    return record.instance_id, record.sid


def worker_of(cluster: Cluster, page: Page, *, not_sid: str | None = None) -> tuple[str, str]:
    """Wait until the tab's websocket is registered (with a sid other than ``not_sid``)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        record = socket_record(cluster, page)
        if record is not None and record[1] != not_sid:
            return record
        page.wait_for_timeout(100)
    raise AssertionError("the tab's websocket never registered in Redis")


def move_to_other_worker(cluster: Cluster, page: Page, seen: set[str]) -> str:
    """Reload the tab until its websocket is served by another worker; returns its id."""
    instance, sid = worker_of(cluster, page)
    seen.add(instance)
    for _ in range(40):
        page.reload()
        page.wait_for_load_state("networkidle")
        now, sid = worker_of(cluster, page, not_sid=sid)
        seen.add(now)
        if now != instance:
            return now
    raise AssertionError(f"40 reloads all landed on worker {instance}: is there a second one?")


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email", exact=True).fill(DEMO_EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()


def test_one_traveler_flow_across_two_workers(cluster: Cluster, browser: Browser) -> None:  # noqa: F811
    seen: set[str] = set()
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sign_in(page, cluster.url)

    # Checkout page on one worker...
    page.goto(cluster.url)
    page.get_by_test_id("destination-option").filter(has_text="France").click()
    page.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    checkout_worker, _ = worker_of(cluster, page)
    seen.add(checkout_worker)
    # ... payment and provisioning on the other.
    pay_worker = move_to_other_worker(cluster, page, seen)
    assert pay_worker != checkout_worker
    fill_card(page)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page).to_have_url(re.compile(r"/orders/[\w-]+$"), timeout=30_000)
    order_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

    # Install page back on the first worker: the tab's state followed it through Redis.
    page.get_by_role("button", name="Install your eSIM").click()
    expect(page).to_have_url(re.compile(r"/esims/\d+/install$"))
    esim_id = int(page.url.rstrip("/").rsplit("/", 2)[-2])
    install_worker = move_to_other_worker(cluster, page, seen)
    assert install_worker == checkout_worker
    smdp = page.get_by_test_id("smdp").inner_text()
    matching_id = page.get_by_test_id("matching-id").inner_text()

    with psycopg.connect(cluster.database_url) as conn:
        payments = conn.execute(
            "SELECT COUNT(*) FROM payment p JOIN purchase_order o ON o.checkout_id = p.checkout_id"
            " WHERE o.id = %s AND p.status = 'succeeded'",
            (order_id,),
        ).fetchone()
        iccid, unique_id = conn.execute(
            "SELECT e.iccid, o.addon_unique_id FROM purchase_order o"
            " JOIN esim e ON e.id = o.esim_id WHERE o.id = %s",
            (order_id,),
        ).fetchone()  # type: ignore[misc]
    assert payments == (1,)

    sim = SimApi(cluster.sim_url)
    sim.login()
    try:
        row = sim.resp(sim.get("fetchSIM", iccid=iccid))["responseParam"]["rows"][0]
        assert row["activationCode"]["textQrCode"] == f"LPA:1${smdp}${matching_id}"
        endpoint = row["endPointId"]
        profile = sim.get("GetEndPointProfile", endPointId=endpoint).json()
        assert profile["Response"]["info"]["basicInfo"]["status"] == "Active"
        addons = sim.resp(sim.get("GetEndpointAddonDetails", endPointId=endpoint))
        assert [(a["planId"], a["uniqueId"]) for a in addons["responseParam"]["rows"]] == [
            ("870101", unique_id)
        ]

        # Live dashboard across workers: tab A watches on one worker, tab B refreshes on
        # the other; A updates through the Redis relay (its own poll is 10 minutes).
        dash = f"{cluster.url}/esims/{esim_id}"
        page.goto(dash)
        gauge_a = page.get_by_test_id("data-gauge")
        expect(gauge_a).to_have_attribute("aria-valuetext", "1 GB of 1 GB left (100 %)")
        worker_a, _ = worker_of(cluster, page)
        other = ctx.new_page()
        other.goto(dash)
        expect(other.get_by_test_id("data-gauge")).to_be_visible()
        worker_b, _ = worker_of(cluster, other)
        if worker_b == worker_a:
            worker_b = move_to_other_worker(cluster, other, seen)
        assert worker_b != worker_a
        sim.consume(endpoint, 300 * MB)
        other.get_by_role("button", name="Refresh now").click()
        expected = f"{format_bytes(1024 * MB - 300 * MB)} of 1 GB left (70.7 %)"
        expect(other.get_by_test_id("data-gauge")).to_have_attribute("aria-valuetext", expected)
        expect(gauge_a).to_have_attribute("aria-valuetext", expected, timeout=15_000)
    finally:
        sim.close()
        ctx.close()
    assert len(seen) == 2  # exactly the two workers served this traveler

    # Together the workers (traveler calls and their schedulers) stayed within the SFT
    # budget: the simulator enforces the portal's TPS (BUDGET_TPS) and its own log shows no
    # 429 and no one-second window above it. (The stress proof of the shared Redis bucket
    # across processes is test_workers.py.)
    calls = httpx.get(f"{cluster.sim_url}/_sim/calls", params={"limit": "5000"}).json()["calls"]
    assert len(calls) > 10  # positive control: provisioning, refreshes and jobs called SFT
    assert [c for c in calls if c["status"] == 429] == []
    times = [datetime.fromisoformat(c["at"]).timestamp() for c in calls]
    assert max_in_window(times) <= BUDGET_TPS + 1  # one token may be banked at the start


def test_exactly_one_scheduler_runs(cluster: Cluster) -> None:
    # Both workers start a scheduler; only the lease holder records job runs.
    deadline = time.monotonic() + 60
    started: set[str] = set()
    holders: set[str] = set()
    while time.monotonic() < deadline:
        started = set(re.findall(r"scheduler (\S+) started", cluster.log()))
        with psycopg.connect(cluster.database_url) as conn:
            holders = {h for (h,) in conn.execute("SELECT DISTINCT holder FROM job_run")}
            jobs = {j for (j,) in conn.execute("SELECT DISTINCT job FROM job_run")}
        if len(started) == 2 and holders and {"usage_sync", "recovery"} <= jobs:
            break
        time.sleep(1)
    pids = {holder.split(":")[1] for holder in started}
    assert len(started) == 2 and len(pids) == 2, cluster.log()[-3000:]
    assert len(holders) == 1 and holders <= started, (holders, started)
    with psycopg.connect(cluster.database_url) as conn:
        lease = conn.execute("SELECT holder FROM scheduler_lease WHERE name = 'scheduler'")
        assert {lease.fetchone()[0]} == holders  # type: ignore[index]
    acquired = re.findall(r"scheduler lease acquired by (\S+)", cluster.log())
    assert set(acquired) == holders
