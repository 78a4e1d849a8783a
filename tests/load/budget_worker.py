"""One "worker process" drawing from the shared SFT budget: ``python -m tests.load.budget_worker``.

``budget_worker REDIS_URL ACCOUNT TPS N TASKS``: ``TASKS`` concurrent tasks take ``N`` grants
in total from a :class:`RedisRateBudget` (priorities cycling provisioning / refresh / sync,
as a backend worker and the scheduler would), and print each grant's Redis-clock time, one a
line, as ``<time> <priority>``.
"""

from __future__ import annotations

import asyncio
import sys

from travelsim.sft.models import Priority
from travelsim.sft.ratelimit_redis import RedisRateBudget


async def run(url: str, account: str, tps: float, n: int, tasks: int) -> list[tuple[float, int]]:
    budget = RedisRateBudget(url, tps, account=account)
    grants: list[tuple[float, int]] = []
    left = list(range(n))
    priorities = list(Priority)

    async def task() -> None:
        while left:
            i = left.pop()
            priority = priorities[i % len(priorities)]
            await budget.acquire(priority)
            assert budget.last_grant_at is not None
            grants.append((budget.last_grant_at, int(priority)))

    await asyncio.gather(*(task() for _ in range(tasks)))
    await budget.aclose()
    return grants


def main() -> int:
    url, account, tps, n, tasks = sys.argv[1:6]
    for at, priority in asyncio.run(run(url, account, float(tps), int(n), int(tasks))):
        print(f"{at:.6f} {priority}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
