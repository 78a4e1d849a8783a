"""The real app for the browser-facing benchmarks: ``reflex run --env prod`` with signed-in
travelers, each owning one delivered eSIM.

What :func:`start_app` does is what ``tests/e2e/conftest.py`` (``app_env``, ``app_url``) does:
a fresh ``DATA_DIR``, ``python -m travelsim.cli seed``, then ``reflex run --env prod`` with
frontend, backend and routes on one free port, ready when ``/healthz`` and ``/`` answer.
Before the app starts, ``python -m benchmarks.appserver populate`` (a separate process with
the app's environment, so it writes the app's SQLite files) creates the travelers and buys
each one a "France 1 GB" eSIM through the portal's own services
(``checkout.start_checkout`` + ``checkout.pay`` with the demo card + ``provisioning.run_order``)
against the app's built-in simulator (same SQLite file; no rate limit during setup, the
documented 2 requests/s while the app runs), consumes some data on every endpoint through
the simulator's control ``POST /_sim/consume`` and runs the portal's usage sync once
(``usage.sync_esims``), so every dashboard has real figures.
Travelers then sign in through the real form route ``POST /auth/signin`` of the running app,
which answers with the HttpOnly session cookie.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-traveler-password-1"
COOKIE = "travelsim_session"
PLAN_ID = "870101"  # France 1 GB, on sale in the seed catalogue
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Traveler:
    email: str
    esim_id: int
    endpoint_id: str
    cookie: str = ""


@dataclass
class App:
    url: str
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    travelers: list[Traveler] = field(default_factory=list)

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
        """Resident memory (VmRSS) of every process of the app, in MiB."""
        out: dict[int, float] = {}
        for pid in self.processes():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return out

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.data_dir, ignore_errors=True)


def app_environment(
    prefix: str, *, esims: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The app's environment (as ``tests/e2e/conftest.py``), with a fresh DATA_DIR."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"travelsim-bench-{prefix}-"))
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        APP_ENV="test",
        DATA_DIR=str(data_dir),
        FRONTEND_PORT=str(port),
        BACKEND_PORT=str(port),
        PUBLIC_URL=f"http://localhost:{port}",
        SFT_SIM_SEED_ESIMS=str(esims + 10),
        # The running app at the documented account limit (its scheduler's usage sync then
        # adds the same light background load as in production); setup is unlimited.
        SFT_SIM_RATE_LIMIT_TPS="2",
        SFT_RATE_LIMIT_TPS="2",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra or {})
    for name in ("DATABASE_URL", "SFT_BASE_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


def start_app(env: dict[str, str], travelers: int) -> App:
    """Seed, populate ``travelers`` travelers, start the app, sign every traveler in."""
    data_dir = Path(env["DATA_DIR"])
    subprocess.run(
        [sys.executable, "-m", "travelsim.cli", "seed"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = data_dir / "travelers.json"
    # Setup only: the simulator and the portal's budget unlimited while buying.
    setup_env = dict(env, SFT_SIM_RATE_LIMIT_TPS="0", SFT_RATE_LIMIT_TPS="100000")
    subprocess.run(
        [sys.executable, "-m", "benchmarks.appserver", "populate", str(travelers), str(out)],
        cwd=ROOT,
        env=setup_env,
        check=True,
    )
    people = [Traveler(**t) for t in json.loads(out.read_text())]
    port = env["FRONTEND_PORT"]
    log_path = data_dir / "app.log"
    log = log_path.open("w")
    reflex = str(Path(sys.executable).parent / "reflex")
    proc = subprocess.Popen(
        [reflex, "run", "--env", "prod", "--frontend-port", port, "--backend-port", port],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    app = App(url=url, env=env, data_dir=data_dir, proc=proc, log_path=log_path)
    deadline = time.monotonic() + 900
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        asyncio.run(_sign_in(url, people))
    except BaseException:
        app.stop()
        raise
    app.travelers = people
    return app


async def _sign_in(url: str, people: list[Traveler]) -> None:
    """``POST /auth/signin`` for each traveler; keeps the HttpOnly session cookie."""
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def one(t: Traveler) -> None:
            async with gate:
                r = await http.post(
                    "/auth/signin",
                    data={"email": t.email, "password": PASSWORD, "next": f"/esims/{t.esim_id}"},
                    follow_redirects=False,
                )
            if r.status_code != 303 or COOKIE not in r.cookies:
                raise RuntimeError(f"sign-in of {t.email} failed: {r.status_code} {r.headers}")
            t.cookie = r.cookies[COOKIE]
            http.cookies.clear()

        await asyncio.gather(*(one(t) for t in people))


def consumed_bytes(i: int) -> int:
    """Data used by traveler ``i`` before the benchmark (distinct figures per eSIM)."""
    return (100 + 3 * i) * 1_048_576


# ------------------------------------------------------------------ populate (own process)
async def _populate(n: int, out: Path) -> None:
    from sqlmodel import select

    from travelsim import db
    from travelsim.models import Esim, User, utcnow
    from travelsim.services import accounts, checkout, inventory, provisioning, usage
    from travelsim.services.payments import Card, DemoCardProvider
    from travelsim.settings import get_settings
    from travelsim.sft import Priority
    from travelsim.sft.factory import SIMULATOR_BASE_URL, build_client
    from travelsim.sft_simulator import SimulatorConfig, create_app

    settings = get_settings()
    client = build_client(settings)
    password_hash = accounts.hash_password(PASSWORD)  # one Argon2 hash (salted) for all
    async with db.session() as s:
        users = [
            User(
                email=f"traveler{i:04d}@example.com",
                password_hash=password_hash,
                email_verified_at=utcnow(),
            )
            for i in range(n)
        ]
        s.add_all(users)
        await s.commit()
        for u in users:
            await s.refresh(u)
        await inventory.refill_pool(client, s, max_pages=n // 100 + 3)
    provider = DemoCardProvider()
    card = Card("4242 4242 4242 4242", "12/35", "123")
    people: list[dict[str, object]] = []
    for user in users:
        async with db.session() as s:
            co = await checkout.start_checkout(
                s, user=user, plan_id=PLAN_ID, destination="FR", client=client
            )
            checkout_id = co.id
        async with db.session() as s:
            outcome = await checkout.pay(
                s, provider, checkout_id=checkout_id, user=user, card=card, device_confirmed=True
            )
        assert outcome.order_id, outcome
        order = await provisioning.run_order(outcome.order_id, client=client)
        assert order.status == "delivered", order.last_error
        async with db.session() as s:
            esim = (await s.exec(select(Esim).where(Esim.id == order.esim_id))).one()
        people.append({"email": user.email, "esim_id": esim.id, "endpoint_id": esim.endpoint_id})
    sim = create_app(
        SimulatorConfig(db_path=settings.simulator_db_path, seed_esims=0, rate_limit_tps=0)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim), base_url=SIMULATOR_BASE_URL
    ) as ctl:
        for i, p in enumerate(people):
            r = await ctl.post(
                "/_sim/consume", json={"endPointId": p["endpoint_id"], "bytes": consumed_bytes(i)}
            )
            r.raise_for_status()
            assert r.json()["billedBytes"] == consumed_bytes(i), r.json()
    ids = [int(str(p["esim_id"])) for p in people]
    result = await usage.sync_esims(client, ids, priority=Priority.PROVISIONING)
    assert all(o.ok for o in result.outcomes), [o for o in result.outcomes if not o.ok][:3]
    await client.aclose()
    await db.async_engine().dispose()
    await asyncio.to_thread(out.write_text, json.dumps(people))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.appserver")
    sub = parser.add_subparsers(dest="command", required=True)
    pop = sub.add_parser("populate", help="(inside the app's environment) create travelers")
    pop.add_argument("travelers", type=int)
    pop.add_argument("out", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    asyncio.run(_populate(args.travelers, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
