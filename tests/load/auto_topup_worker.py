"""One portal "worker" for the automatic top-up race: ``python -m tests.load.auto_topup_worker``.

Against the database of ``DATABASE_URL`` and the localstripe of ``STRIPE_LOCAL_PORT`` (both
inherited from the test), it waits until the test creates the ``go`` file, then runs at once
``ROUNDS`` callback processings (``callbacks.apply_pending``) and ``ROUNDS`` usage syncs of
the eSIM (``usage_sync.sync_esims``), the two writers whose figures hook fires the automatic
top-up (``services.auto_topup_fire``). Provisioning is not started: every order id the
firing hands to it is printed as ``order=<id>``, then ``done``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from travelsim.services import auto_topup_fire, callbacks, figures_hooks, platform, usage_sync
from travelsim.sft import LocalRateBudget, Priority, SFTClient

ROUNDS = 4


async def _run(sim_url: str, esim_id: int, go: Path) -> None:
    figures_hooks.register(auto_topup_fire.on_figures)
    platform.ensure_provisioning = lambda order_id: print(f"order={order_id}", flush=True) or True
    client = SFTClient(
        sim_url, "demo", "demo", rate_budget=LocalRateBudget(200.0), timeout=10.0, long_timeout=10.0
    )
    print("ready", flush=True)
    while not go.exists():  # a start line shared by both processes
        await asyncio.sleep(0.005)
    try:
        await asyncio.gather(
            *(callbacks.apply_pending() for _ in range(ROUNDS)),
            *(
                usage_sync.sync_esims(client, [esim_id], priority=Priority.SYNC)
                for _ in range(ROUNDS)
            ),
        )
    finally:
        await client.aclose()
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sim_url")
    parser.add_argument("esim_id", type=int)
    parser.add_argument("go", type=Path)
    args = parser.parse_args()
    asyncio.run(_run(args.sim_url, args.esim_id, args.go))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
