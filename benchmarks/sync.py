"""Usage-sync throughput as a fraction of the SFT budget (target >= 95 %, zero 429s).

``python -m benchmarks.sync [--esims 1000] [--window 60]``

Setup (not measured, simulator unlimited): the in-process simulator is seeded with ``--esims``
eSIMs, the portal's pool mirrors them, each is assigned to a traveler and, on the platform,
activated with one add-on subscribed. Then the simulator is set to the documented account limit (2
requests/second, docs/sft-platform.md#rate-limit; 429 beyond) and the portal's usage-sync job
(``jobs.runs.run_usage_sync``, the scheduler's job, with the process's ``LocalRateBudget`` at
``SFT_RATE_LIMIT_TPS``, default 1.5: below the account's limit, which other tools share) runs for
a fixed window. Figures: SFT requests sent by the portal (``MeteredBudget``), 429 answers (portal
side and in the simulator's own call log), eSIMs synced, and requests/second as a fraction of
the portal's budget.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import warnings

from benchmarks.common import fresh_environment, machine

DOCUMENTED_TPS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--esims", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    fresh_environment("sync")
    asyncio.run(run(args.esims, args.window))
    return 0


async def run(n: int, window: float) -> None:
    import httpx
    from sqlalchemy import update
    from sqlmodel import col, select

    from travelsim import db
    from travelsim.models import Esim, User, utcnow
    from travelsim.services import inventory
    from travelsim.services.jobs import metering, runs
    from travelsim.settings import get_settings
    from travelsim.sft import LocalRateBudget, Priority, SFTClient
    from travelsim.sft_simulator import SimulatorConfig, create_app

    settings = get_settings()
    db.migrate(db.sync_engine())
    app = create_app(
        SimulatorConfig(db_path=settings.data_dir / "bench-sim.db", seed_esims=n, rate_limit_tps=0)
    )
    base = "http://sft-simulator.internal"

    def client_with(budget: object) -> SFTClient:
        return SFTClient(
            base,
            "demo",
            "demo",
            rate_budget=budget,  # type: ignore[arg-type]
            transport=httpx.ASGITransport(app=app),
        )

    # --- setup at full speed ---------------------------------------------------------------
    t_setup = time.perf_counter()
    fast = client_with(LocalRateBudget(100_000.0))
    async with db.session() as s:
        users = [User(email=f"sync{i}@example.com", password_hash="x") for i in range(10)]
        s.add_all(users)
        await s.commit()
        for u in users:
            await s.refresh(u)
        await inventory.refill_pool(fast, s, max_pages=n // 100 + 2)
        esims = list((await s.exec(select(Esim))).all())
        assert len(esims) == n, len(esims)
        for i, e in enumerate(esims):
            await s.execute(
                update(Esim)
                .where(col(Esim.id) == e.id)
                .values(
                    state="assigned",
                    user_id=users[i % 10].id,
                    assigned_at=utcnow(),
                    destination="FR",
                )
            )
        await s.commit()
    gate = asyncio.Semaphore(16)

    async def provision(endpoint_id: str) -> None:
        async with gate:
            await fast.change_lifecycle(endpoint_id, "A", priority=Priority.PROVISIONING)
            await fast.subscribe_addon(endpoint_id, "870101", priority=Priority.PROVISIONING)

    await asyncio.gather(*(provision(e.endpoint_id) for e in esims))
    await fast.aclose()
    setup_s = time.perf_counter() - t_setup

    # --- the measured window at the documented budget --------------------------------------
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as ctl:
        r = await ctl.post("/_sim/settings", json={"rate_limit_tps": DOCUMENTED_TPS})
        r.raise_for_status()
        (await ctl.delete("/_sim/calls")).raise_for_status()
        metered = metering.MeteredBudget(LocalRateBudget(settings.sft_rate_limit_tps))
        client = client_with(metered)
        run_settings = settings.model_copy(
            update={"sync_interval_seconds": window, "sync_fill_fraction": 1.0}
        )
        stats = metering.RunStats()
        t0 = time.perf_counter()
        await runs.run_usage_sync(client, stats, settings=run_settings)
        elapsed = time.perf_counter() - t0
        await client.aclose()
        calls = (await ctl.get("/_sim/calls", params={"limit": "100000"})).json()["calls"]
    await db.async_engine().dispose()
    sim_429 = sum(1 for c in calls if c["status"] == 429)
    rate = metered.calls / elapsed
    # The budget's capacity over the window: one token at the start, then TPS per second.
    capacity = 1 + elapsed * settings.sft_rate_limit_tps
    print(
        f"sync: usage-sync throughput at the portal's {settings.sft_rate_limit_tps:g} req/s "
        f"(account limit {DOCUMENTED_TPS:g} req/s), {n} eSIMs"
    )
    print(f"  machine: {machine()}")
    print(
        f"  window {elapsed:5.1f} s: {metered.calls} SFT requests sent ({len(calls)} seen by the "
        f"simulator), {stats.items} eSIMs synced, {stats.errors} failed"
    )
    print(
        f"  {rate:.3f} req/s; {100 * metered.calls / capacity:.1f} % of the budget's capacity "
        f"over the window (1 + {settings.sft_rate_limit_tps:g}/s x {elapsed:.1f} s; target >= 95 %)"
    )
    print(f"  429 answers: {metered.rate_limited} at the portal, {sim_429} in the simulator's log")
    tps = settings.sft_rate_limit_tps
    print(f"  (setup: {setup_s:.0f} s, not measured; SFT_RATE_LIMIT_TPS={tps:g})")


if __name__ == "__main__":
    raise SystemExit(main())
