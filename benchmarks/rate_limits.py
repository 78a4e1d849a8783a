"""CPU per rate-limit hit in memory, with many windows open (no Redis).

``python -m benchmarks.rate_limits [--hits N]``

The portal counts its in-memory limits (no ``REDIS_URL``: one worker, the demo) with
``limits``' synchronous ``MemoryStorage``, its sweep of expired windows at most once a minute
(``travelsim.services.rate_limits.SweptMemoryStorage``; docs/architecture.md#rate-limits).
This prints, for 10, 200 and 1,000 windows already open (one per traveler, as after that many
checkout starts within the hour), the process CPU per hit of the portal's ``rate_limits.hit``
and, for comparison, of ``limits``' asyncio ``MemoryStorage`` (which sweeps every key with a
worker-thread hop after each hit). Each hit is followed by 12 ms of idle event loop, as
between two requests, so a storage's background sweep runs and is counted; the CPU of the
idle loop alone is measured and subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from benchmarks.common import fresh_environment, machine

GAP_SECONDS = 0.012


async def _cpu_per_hit(hit: Callable[[str], Awaitable[object]], hits: int, idle: float) -> float:
    """Process CPU (ms) per ``hit`` of a new key, the idle loop's own CPU subtracted."""
    c0 = time.process_time()
    for i in range(hits):
        await hit(f"bench-new-{i}")
        await asyncio.sleep(GAP_SECONDS)
    return (time.process_time() - c0) * 1000 / hits - idle


async def _idle_cpu(hits: int) -> float:
    c0 = time.process_time()
    for _ in range(hits):
        await asyncio.sleep(GAP_SECONDS)
    return (time.process_time() - c0) * 1000 / hits


async def run(hits: int) -> None:
    from limits import RateLimitItem, parse
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    from travelsim.services import rate_limits

    limit = rate_limits.Limit("bench", "10/hour")
    print(f"rate limits in memory: process CPU per hit ({hits} hits a row)")
    print(f"  machine: {machine()}")
    idle = await _idle_cpu(hits)
    for windows in (10, 200, 1000):
        await rate_limits.reset_all()
        library = MovingWindowRateLimiter(MemoryStorage())
        item = parse("10/hour")
        for k in range(windows):
            await rate_limits.hit(limit, f"open-{k}")
            await library.hit(item, "bench", f"open-{k}")
        await asyncio.sleep(0.1)  # both sweeps of the filling are over

        async def portal(key: str) -> object:
            return await rate_limits.hit(limit, key)

        async def asyncio_storage(
            key: str, library: MovingWindowRateLimiter = library, item: RateLimitItem = item
        ) -> object:
            return await library.hit(item, "bench", key)

        ours = await _cpu_per_hit(portal, hits, idle)
        theirs = await _cpu_per_hit(asyncio_storage, hits, idle)
        print(
            f"  {windows:5d} windows open: portal {ours:6.2f} ms   "
            f"limits' asyncio MemoryStorage {theirs:6.2f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=100)
    args = parser.parse_args()
    fresh_environment("rate-limits")
    asyncio.run(run(args.hits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
