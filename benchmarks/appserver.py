"""The real app for the browser-facing benchmarks: ``reflex run --env prod`` with signed-in
travelers, each owning one delivered eSIM.

The app is started by the harness the tests use (``tests/harness.py``: ``app_environment``,
``seed``, ``start_app``): a fresh ``DATA_DIR``, ``python -m travelsim.cli seed``, then
``reflex run --env prod`` with frontend, backend and routes on one free port, ready when
``/healthz`` and ``/`` answer, its process group ended at the end.
Before the app starts, ``python -m benchmarks.appserver populate`` (a separate process with
the app's environment, so it writes the app's SQLite files) creates the travelers and buys
each one a "France 1 GB" eSIM through the portal's own services
(``checkout.start_checkout`` + ``checkout_payment.pay`` with a 4242 test card's token +
``provisioning.run_order``, which captures the payment)
against the app's built-in simulator and the app's localstripe (started by ``populate`` on
the app's ``STRIPE_LOCAL_PORT`` with the app's store ``DATA_DIR/localstripe.pickle`` and
stopped before the app starts its own on the same store; the simulator: same SQLite file,
no rate limit during setup, the documented 2 requests/s while the app runs), consumes some
data on every endpoint through the simulator's control ``POST /_sim/consume`` and runs the
portal's usage sync once (``usage_sync.sync_esims``), so every dashboard has real figures.
Travelers then sign in through the real form route ``POST /auth/signin`` of the running app,
which answers with the HttpOnly session cookie.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, AppServer, free_port, seed
from tests.harness import app_environment as harness_environment
from tests.harness import start_app as harness_start_app

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "COOKIE", "ROOT", "App", "Traveler", "free_port"]

PASSWORD = "bench-traveler-password-1"
COOKIE = "travelsim_session"
PLAN_ID = "870101"  # France 1 GB, on sale in the seed catalogue


@dataclass
class Traveler:
    email: str
    esim_id: int
    endpoint_id: str
    cookie: str = ""


@dataclass
class App:
    """The running app (:class:`tests.harness.AppServer`) and its signed-in travelers."""

    server: AppServer
    travelers: list[Traveler] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        return self.server.env

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def rss_mb(self) -> dict[int, float]:
        """Resident memory (VmRSS) of every process of the app, in MiB."""
        return self.server.rss_mb()

    def stop(self) -> None:
        """End the app's process group and remove its DATA_DIR (``KEEP_TEST_DATA`` keeps it)."""
        self.server.stop()


def app_environment(
    prefix: str, *, esims: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The app's environment (the harness's, ``tests/harness.py``) with a fresh DATA_DIR,
    ``esims + 10`` eSIMs in the simulator and the documented 2 requests/s."""
    return harness_environment(
        f"bench-{prefix}",
        app_env="test",  # explicit: unset means production, which refuses to start
        extra={
            "SFT_SIM_SEED_ESIMS": str(esims + 10),
            # The running app at the documented account limit (its scheduler's usage sync then
            # adds the same light background load as in production); setup is unlimited.
            "SFT_SIM_RATE_LIMIT_TPS": "2",
            "SFT_RATE_LIMIT_TPS": "2",
            **(extra or {}),
        },
    )


def start_app(env: dict[str, str], travelers: int) -> App:
    """Seed, populate ``travelers`` travelers, start the app, sign every traveler in."""
    data_dir = Path(env["DATA_DIR"])
    seed(env, quiet=True)
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
    app = App(harness_start_app(env), people)
    try:
        asyncio.run(_sign_in(app.url, people))
    except BaseException:
        app.server.stop(keep_data=True)
        raise
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

    from benchmarks.common import card_token
    from travelsim import db
    from travelsim.models import Esim, User, utcnow
    from travelsim.services import (
        checkout,
        checkout_payment,
        consent,
        inventory,
        provisioning,
        usage_sync,
    )
    from travelsim.services.auth import passwords
    from travelsim.services.payments import get_provider
    from travelsim.settings import get_settings
    from travelsim.sft import Priority
    from travelsim.sft.factory import SIMULATOR_BASE_URL, build_client
    from travelsim.sft_simulator import SimulatorConfig, create_app
    from travelsim.stripe_config import stripe_config

    settings = get_settings()
    client = build_client(settings)
    password_hash = passwords.hash_password(PASSWORD)  # one Argon2 hash (salted) for all
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
    provider = get_provider()
    config = stripe_config()
    people: list[dict[str, object]] = []
    for user in users:
        async with db.session() as s:
            co = await checkout.start_checkout(
                s, user=user, plan_id=PLAN_ID, destination="FR", client=client
            )
            checkout_id = co.id
        token = await asyncio.to_thread(card_token, config.api_base, config.publishable_key)
        async with db.session() as s:
            outcome = await checkout_payment.pay(
                s,
                provider,
                checkout_id=checkout_id,
                user=user,
                card=checkout_payment.NewCard(token),
                device_confirmed=True,
                # the terms and immediate-start boxes, recorded with the payment (docs/legal.md)
                acceptance=consent.Acceptance.given_now(),
                start_provisioning=None,  # run below
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
    result = await usage_sync.sync_esims(client, ids, priority=Priority.PROVISIONING)
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
    from travelsim.settings import get_settings
    from travelsim.stripe_local import LocalStripe

    settings = get_settings()
    stripe = LocalStripe(own_group=False).start(
        settings.stripe_local_port,
        settings.data_dir / "localstripe.pickle",
        log_path=settings.data_dir / "localstripe.log",
    )
    try:
        asyncio.run(_populate(args.travelers, args.out))
    finally:
        stripe.stop()  # the store is saved; the app's own localstripe loads it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
