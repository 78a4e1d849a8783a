"""One harness for every layer that runs the real thing: the app, the simulator, the databases.

Used by the browser tests (``tests/e2e/conftest.py``), the load tests (``tests/load/``) and
the benchmarks (``benchmarks/appserver.py``), so the app is started one way everywhere:

* :func:`app_environment`: the app's environment with a free port (frontend, backend and
  routes on that one port), its own fresh ``DATA_DIR`` (SQLite files and the built-in
  simulator's file), its own free ``STRIPE_LOCAL_PORT`` (the app starts its embedded
  localstripe there, store ``DATA_DIR/localstripe.pickle``, log ``DATA_DIR/localstripe.log``)
  and no inherited ``DATABASE_URL`` / ``SFT_BASE_URL`` / ``REDIS_URL`` / ``STRIPE_*``;
* :func:`seed` (``python -m travelsim.cli seed``, as ``make demo`` does), then
  :func:`start_app`: ``reflex run --env prod``, ready when ``/healthz`` and ``/`` answer 200;
  :meth:`AppServer.stop` ends its whole process group (SIGTERM, then SIGKILL; the app's
  localstripe is in that group) and removes the
  ``DATA_DIR`` unless asked to keep it (a failed start, a failed test, ``KEEP_TEST_DATA=1``):
  the app's log is ``<DATA_DIR>/app.log``;
* :class:`SimProcess`: the standalone simulator (``python -m travelsim.sft_simulator serve``);
* :class:`AppSimulator`: the app's own built-in simulator, driven through its controls on the
  app's port (``/_sim/...``, ``docs/simulator.md``), plus a read-only view of the records in
  its SQLite file;
* :func:`create_pg_database` / :func:`drop_pg_database` (a scratch PostgreSQL database) and
  :func:`redis_client` (Redis reachable): when a service is absent the test is skipped with
  the reason on a laptop and fails when ``CI`` is set (:func:`service_missing`).

This module imports nothing from ``travelsim`` (the app is always a separate process here),
and ``pytest`` only where a test is skipped or failed, so the benchmarks can use it too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Seconds ``reflex run --env prod`` may take to answer (the first run builds the frontend).
APP_START_SECONDS = 900.0
SIMULATOR_DB = "sft_simulator.db"  # the built-in simulator's file inside DATA_DIR
PORTAL_DB = "travelsim.db"  # the portal's SQLite file inside DATA_DIR
#: The built-in simulator's SM-DP+ address (``SFT_SIM_SMDP_ADDRESS`` left at its default,
#: ``docs/simulator.md#settings-environment-prefix-sft_sim_``): activation codes are
#: ``LPA:1$<this>$<matching id>``.
SIM_SMDP_ADDRESS = "smdp.sim.local"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keep_test_data() -> bool:
    """``KEEP_TEST_DATA`` is set: leave every ``DATA_DIR`` (and its logs) in place."""
    return bool(os.environ.get("KEEP_TEST_DATA"))


# ------------------------------------------------------------------ services
def service_missing(what: str) -> None:
    """Skip (on a laptop) or fail (in CI, where the service must be present)."""
    import pytest

    message = f"{what} is not reachable; these tests need it (it is mandatory in CI)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def create_pg_database() -> str:
    """Create an empty PostgreSQL database; returns its URL. Skips/fails when absent."""
    import psycopg

    name = f"travelsim_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        service_missing("PostgreSQL at 127.0.0.1:5432")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    """Drop the database made by :func:`create_pg_database` (its sessions are ended)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_client(url: str = REDIS_URL) -> Any:
    """A ``redis.Redis`` that answered PING. Skips/fails (:func:`service_missing`) when not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError:
        service_missing(f"Redis at {url}")
    return client


# ------------------------------------------------------------------ processes
def stop_group(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """End ``proc`` and its process group (started with ``start_new_session=True``):
    SIGTERM, then SIGKILL after ``timeout`` seconds. A group already gone is fine."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=timeout)


def wait_http(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, seconds: float, *, poll: float = 0.5
) -> None:
    """Wait until GET ``url`` answers 200. Raises ``RuntimeError`` with the tail of
    ``log_path`` when ``proc`` exits first or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited early:\n{_tail(log_path)}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {seconds:.0f} s:\n{_tail(log_path)}")
        time.sleep(poll)


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"(no log at {path})"


def localstripe_pids(port: int) -> list[int]:
    """Live ``python -m travelsim.stripe_local_server --port <port>`` processes (from /proc;
    zombies excluded), whoever started them."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or b"travelsim.stripe_local_server" not in argv:
            continue
        if b"--port" in argv and argv[argv.index(b"--port") + 1 :][:1] == [str(port).encode()]:
            found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ the app
def app_environment(
    prefix: str,
    *,
    app_env: str = "test",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The app's environment: this process' environment plus a free port for frontend,
    backend and routes, a fresh ``DATA_DIR`` (``/tmp/travelsim-<prefix>-*``), ``APP_ENV``
    and ``extra`` (applied last). ``DATABASE_URL``, ``SFT_BASE_URL`` and ``REDIS_URL`` are
    dropped unless ``extra`` sets them: SQLite files and the built-in simulator by default.
    Every ``STRIPE_*`` setting is dropped too and ``STRIPE_LOCAL_PORT`` is a free port of its
    own: the app runs on the localstripe it starts itself (``travelsim.stripe_local``)."""
    port = free_port()
    stripe_port = free_port()
    while stripe_port == port:
        stripe_port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"travelsim-{prefix}-"))
    env = dict(os.environ)
    for name in ("DATABASE_URL", "SFT_BASE_URL", "REDIS_URL"):
        env.pop(name, None)
    for name in [n for n in env if n.upper().startswith("STRIPE_")]:
        env.pop(name)
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        APP_ENV=app_env,
        DATA_DIR=str(data_dir),
        FRONTEND_PORT=str(port),
        BACKEND_PORT=str(port),
        PUBLIC_URL=f"http://localhost:{port}",
        STRIPE_LOCAL_PORT=str(stripe_port),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
        # Every browser of a test run is one loopback address: the per-address limits would
        # count the whole suite as one traveler (their probes: tests/load/test_attack_checkout.py,
        # tests/load/test_attack_accounts.py).
        CHECKOUT_START_RATE_PER_ADDRESS="1000/10 minutes",
        SIGNIN_THROTTLE_PER_ADDRESS="1000",
        ACCOUNT_REQUESTS_PER_ADDRESS="1000",
    )
    env.update(extra or {})
    return env


def seed(env: dict[str, str], *, quiet: bool = False) -> None:
    """``python -m travelsim.cli seed`` in the app's environment (plans, demo users, the
    simulator's inventory and the portal's pool: what ``make demo`` does first)."""
    out = subprocess.DEVNULL if quiet else None
    subprocess.run(
        [sys.executable, "-m", "travelsim.cli", "seed"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=out,
        stderr=out,
    )


@dataclass
class AppServer:
    """A running ``reflex run --env prod`` (its own process group) and where it keeps data."""

    url: str  # http://localhost:<port>
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path  # <DATA_DIR>/app.log: stdout and stderr of every process of the app
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DATA_DIR"])

    @property
    def port(self) -> int:
        return int(self.env["FRONTEND_PORT"])

    @property
    def stripe_base(self) -> str:
        """``http://127.0.0.1:<STRIPE_LOCAL_PORT>``: the localstripe the app started."""
        return f"http://127.0.0.1:{self.env['STRIPE_LOCAL_PORT']}"

    def localstripe_pids(self) -> list[int]:
        """Live processes of the app's localstripe (:func:`localstripe_pids` on its port)."""
        return localstripe_pids(int(self.env["STRIPE_LOCAL_PORT"]))

    @property
    def loopback_url(self) -> str:
        """``http://127.0.0.1:<port>``: the host name the simulator controls accept."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def processes(self) -> list[int]:
        """The app's process tree (``reflex run`` and its workers), from /proc."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def rss_mb(self) -> dict[int, float]:
        """Resident memory (VmRSS) of every process of the app, in MiB (2**20 bytes)."""
        out: dict[int, float] = {}
        for pid in self.processes():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return out

    def stop(self, *, keep_data: bool = False) -> None:
        """End the app's process group; remove ``DATA_DIR`` unless ``keep_data`` or
        ``KEEP_TEST_DATA`` (then its path is printed, the log is in it)."""
        stop_group(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if keep_data or keep_test_data():
            print(f"\n[harness] app data and log kept: {self.log_path}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_app(env: dict[str, str], *, timeout: float = APP_START_SECONDS) -> AppServer:
    """``reflex run --env prod`` on ``env``'s port; returns once ``/healthz`` and ``/``
    answer 200. On failure the process group is ended, ``DATA_DIR`` (with ``app.log``) is
    kept and ``RuntimeError`` carries the log's tail."""
    data_dir = Path(env["DATA_DIR"])
    port = env["FRONTEND_PORT"]
    log_path = data_dir / "app.log"
    log = log_path.open("ab")
    ports = ["--frontend-port", port, "--backend-port", port]
    proc = subprocess.Popen(
        [str(BIN / "reflex"), "run", "--env", "prod", *ports],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = AppServer(f"http://localhost:{port}", env, proc, log_path, log)
    started = time.monotonic()
    try:
        wait_http(f"{app.url}/healthz", proc, log_path, timeout, poll=1)
        wait_http(app.url, proc, log_path, max(60.0, timeout - (time.monotonic() - started)))
    except BaseException:
        app.stop(keep_data=True)
        raise
    return app


# ------------------------------------------------------------------ the standalone simulator
class SimProcess:
    """``python -m travelsim.sft_simulator serve`` on a free loopback port, in its own
    process group; ready when ``GET /_sim/clock`` answers. Its log is
    ``<db folder>/sim-<port>.log``."""

    def __init__(
        self,
        db_path: Path,
        esims: int | None = None,
        rate_limit_tps: float = 0.0,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = db_path.parent / f"sim-{self.port}.log"
        self.log = self.log_path.open("w")
        args = ["--port", str(self.port), "--db", str(db_path)]
        args += ["--rate-limit-tps", str(rate_limit_tps)]
        if esims is not None:
            args += ["--seed", str(esims)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "travelsim.sft_simulator", "serve", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_http(f"{self.url}/_sim/clock", self.proc, self.log_path, timeout, poll=0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_group(self.proc, timeout=10)
        self.log.close()


# ------------------------------------------------------------------ the app's own simulator
def sim_time(text: str) -> datetime:
    """An SFT timestamp (``dd/mm/yyyy HH:MM:SS``, UTC) as an aware datetime."""
    return datetime.strptime(text, "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)


@dataclass
class AppSimulator:
    """The running app's in-process SFT simulator (the one its SFT client talks to).

    Changes go through its controls over HTTP on the app's port (``/_sim/<path>``,
    ``docs/simulator.md``): the app's simulator holds its clock offset, faults and settings
    in memory, so no second simulator is ever opened on its file. What the controls do not
    list (one SIM's row, an endpoint's add-ons) is read from that file, read-only
    (:meth:`sim_row`, :meth:`addons`): stored records only, no rule of the simulator is
    re-run here.
    """

    base_url: str  # http://127.0.0.1:<port> (a loopback Host: the controls refuse others)
    db_path: Path  # <DATA_DIR>/sft_simulator.db

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One control request; the response as is (status not checked)."""
        return httpx.request(method, f"{self.base_url}/_sim/{path}", json=body, timeout=30)

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        """One control request that must succeed; its JSON answer."""
        r = self.call(method, path, body)
        assert r.status_code == 200, f"{method} /_sim/{path}: {r.status_code} {r.text}"
        return r.json()

    def consume(self, endpoint_id: str, nbytes: int) -> dict[str, Any]:
        """Data used on ``endpoint_id`` (bytes), billed by the simulator's rules; its answer
        (``billedBytes``, ``recordedAt`` in simulator time, ...)."""
        out: dict[str, Any] = self.ctl(
            "POST", "consume", {"endPointId": endpoint_id, "bytes": nbytes}
        )
        return out

    def profile_status(self, endpoint_id: str, status: str) -> dict[str, Any]:
        """Set the eSIM profile status of the SIM on ``endpoint_id`` (``released`` ...)."""
        out: dict[str, Any] = self.ctl(
            "POST", "profile-status", {"endPointId": endpoint_id, "status": status}
        )
        return out

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = self.ctl("GET", "state")
        return out

    def clock_offset(self) -> float:
        """Seconds the simulator clock is ahead of the real clock."""
        return float(self.ctl("GET", "clock")["offsetSeconds"])

    def now(self) -> datetime:
        """The simulator clock (UTC)."""
        return datetime.fromtimestamp(float(self.ctl("GET", "clock")["epoch"]), UTC)

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the simulator clock forward (it never goes back, except by :meth:`reset`)."""
        out: dict[str, Any] = self.ctl("POST", "clock/advance", {"seconds": seconds})
        return out

    def reset(self) -> dict[str, Any]:
        """Back to the seeded state with the clock offset at zero: the same inventory
        (the seed is deterministic: the same ICCIDs, endpoints and activation codes, so the
        portal's pool of free eSIMs stays true), no add-ons, no usage, no faults, an empty
        call log. Tokens and the uniqueId counter survive."""
        total = int(self.state()["sims"]["total"])
        out: dict[str, Any] = self.ctl("POST", "reset", {"esims": total})
        return out

    @contextmanager
    def _records(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def sim_row(self, iccid: str) -> dict[str, Any]:
        """The stored SIM of ``iccid`` with its endpoint: ``iccid``, ``endpoint_id``,
        ``matching_id``, ``profile_status``, ``sim_status``, ``endpoint_status``."""
        with self._records() as conn:
            row = conn.execute(
                "SELECT s.iccid, s.endpoint_id, s.matching_id, s.profile_status,"
                " s.status AS sim_status, e.status AS endpoint_status"
                " FROM sim_sims s LEFT JOIN sim_endpoints e ON e.endpoint_id = s.endpoint_id"
                " WHERE s.iccid = ?",
                (iccid,),
            ).fetchone()
        assert row is not None, f"no SIM {iccid} on the simulator"
        return dict(row)

    def endpoint_status(self, endpoint_id: str) -> str:
        """The stored status of ``endpoint_id`` (``Pre-Active``, ``Active``, ``Suspended``...)."""
        with self._records() as conn:
            row = conn.execute(
                "SELECT status FROM sim_endpoints WHERE endpoint_id = ?", (endpoint_id,)
            ).fetchone()
        assert row is not None, f"no endpoint {endpoint_id} on the simulator"
        return str(row["status"])

    def billed_bytes(self, endpoint_id: str) -> int:
        """Every byte the simulator billed on ``endpoint_id`` so far (its usage records)."""
        with self._records() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(billed), 0) AS billed FROM sim_usage WHERE endpoint_id = ?",
                (endpoint_id,),
            ).fetchone()
        return int(row["billed"])

    def addons(self, endpoint_id: str) -> list[dict[str, Any]]:
        """The add-ons subscribed on ``endpoint_id``, oldest uniqueId first: ``unique_id``
        (str), ``plan_id``, ``volume`` (bytes), ``validity_days``, ``removed``."""
        with self._records() as conn:
            rows = conn.execute(
                "SELECT unique_id, plan_id, volume, validity_days, removed_at FROM sim_addons"
                " WHERE endpoint_id = ? ORDER BY unique_id",
                (endpoint_id,),
            ).fetchall()
        return [
            {
                "unique_id": str(r["unique_id"]),
                "plan_id": r["plan_id"],
                "volume": int(r["volume"]),
                "validity_days": int(r["validity_days"]),
                "removed": r["removed_at"] is not None,
            }
            for r in rows
        ]
