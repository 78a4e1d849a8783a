"""A provisioning "backend" that the crash test kills: ``python -m tests.load.crash_worker``.

Runs ``provisioning.run_order`` for one order against a simulator URL and the database of
``DATABASE_URL`` (same ``DATA_DIR``, so the same encryption key as the test), looping while
another run's lease is still alive, until the order is ``delivered`` or ``needs_attention``.
Prints the final status on stdout.

``--kill-after-commit K``: SIGKILL this very process right after the K-th database commit
of the run (SQLAlchemy ``after_commit``: the commit is durable, nothing after it happened).
``--count-commits``: print ``commits=<n>`` at the end (to enumerate the boundaries).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from travelsim.services import provisioning
from travelsim.sft import LocalRateBudget, SFTClient

_commits = 0


def _install_commit_hook(kill_after: int | None) -> None:
    def after_commit(_session: Any) -> None:
        global _commits
        _commits += 1
        if kill_after is not None and _commits == kill_after:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Session, "after_commit", after_commit)


async def _run(order_id: str, sim_url: str, lease_seconds: float) -> str:
    client = SFTClient(
        sim_url,
        "demo",
        "demo",
        rate_budget=LocalRateBudget(200.0),
        retry_backoff=0.05,
        retry_backoff_max=0.2,
        timeout=10.0,
        long_timeout=10.0,
    )
    try:
        for _ in range(600):
            order = await provisioning.run_order(
                order_id, client=client, lease=timedelta(seconds=lease_seconds), backoff=(0.05,)
            )
            if order.status in ("delivered", "needs_attention"):
                return order.status
            await asyncio.sleep(0.1)  # another run holds the lease: wait for it to lapse
        return "timeout"
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("order_id")
    parser.add_argument("sim_url")
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--kill-after-commit", type=int)
    parser.add_argument("--count-commits", action="store_true")
    args = parser.parse_args()
    _install_commit_hook(args.kill_after_commit)
    status = asyncio.run(_run(args.order_id, args.sim_url, args.lease))
    print(status)
    if args.count_commits:
        print(f"commits={_commits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
