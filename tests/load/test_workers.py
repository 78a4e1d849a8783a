"""More than one worker: the SFT rate budget shared through Redis.

Two separate processes draw from one :class:`RedisRateBudget`; every grant's time on Redis' clock
(the one clock every process shares) is collected, and no one-second window of the merged list may
hold more grants than the account's TPS. With a bucket of 1, grants are at least ``1/tps`` apart
(docs/sft-platform.md#rate-limit: 2 TPS per account), which is what is checked: the figure follows
from the documented limit, not from the code under test.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from tests.conftest import REDIS_URL, service_missing
from tests.load.support import ROOT
from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, Priority, get_rate_budget, reset_rate_budget
from travelsim.sft.ratelimit_redis import RedisRateBudget

pytestmark = pytest.mark.redis

TPS = 20.0
GRANTS_PER_PROCESS = 40


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing(f"Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
async def budget(redis_url: str) -> AsyncIterator[RedisRateBudget]:
    b = RedisRateBudget(redis_url, TPS, account=f"test-{uuid.uuid4().hex}")
    yield b
    await b.reset()
    await b.aclose()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most grants in any half-open window ``[t, t + window)``."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def test_two_processes_never_exceed_the_budget_together(redis_url: str) -> None:
    account = f"test-{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.load.budget_worker",
                redis_url,
                account,
                str(TPS),
                str(GRANTS_PER_PROCESS),
                "4",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    per_process = [[float(line.split()[0]) for line in out.splitlines()] for out in outputs]
    assert [len(t) for t in per_process] == [GRANTS_PER_PROCESS] * 2
    merged = sorted(per_process[0] + per_process[1])
    # Both processes really drew from the budget at the same time (interleaved grants).
    assert min(per_process[0]) < max(per_process[1]) and min(per_process[1]) < max(per_process[0])
    # Together: at most TPS grants in any one-second window, grants >= 1/TPS apart.
    assert max_in_window(merged) <= TPS
    gaps = [b - a for a, b in itertools.pairwise(merged)]
    assert min(gaps) >= 1 / TPS - 1e-4  # Redis time is stored to the 0.1 ms
    redis.Redis.from_url(redis_url).delete(
        *(f"travelsim:sft-budget:{account}:{k}" for k in ("bucket", "arrivals"))
    )


async def test_priority_is_served_first_across_processes(
    budget: RedisRateBudget, redis_url: str
) -> None:
    other = RedisRateBudget(redis_url, TPS, account=budget._bucket.split(":")[-2])
    order: list[str] = []

    async def take(b: RedisRateBudget, priority: Priority, label: str) -> None:
        await b.acquire(priority)
        order.append(label)

    syncs = [asyncio.create_task(take(budget, Priority.SYNC, f"sync{i}")) for i in range(8)]
    while len(order) < 2:
        await asyncio.sleep(0.005)
    queued_before = len(order)
    await take(other, Priority.PROVISIONING, "provisioning")
    await asyncio.gather(*syncs)
    await other.aclose()
    # The provisioning call, from another connection ("process"), overtook the sync calls
    # that were already queued: at most the one grant being decided went before it.
    assert order.index("provisioning") <= queued_before + 1
    assert len(order) == 9


async def test_a_dead_waiter_does_not_block_the_queue(
    budget: RedisRateBudget, redis_url: str
) -> None:
    # A waiter of a process that died: at the head of the queue, heartbeat long gone.
    r = redis.Redis.from_url(redis_url)
    r.zadd(budget._queue, {"dead": 0})
    r.hset(budget._beats, "dead", "1")
    await asyncio.wait_for(budget.acquire(Priority.SYNC), timeout=30)
    assert r.zscore(budget._queue, "dead") is None


async def test_a_penalty_pauses_every_process(budget: RedisRateBudget, redis_url: str) -> None:
    other = RedisRateBudget(redis_url, TPS, account=budget._bucket.split(":")[-2])
    await budget.acquire(Priority.SYNC)
    first = budget.last_grant_at
    budget.penalize(0.5)  # one process saw a 429...
    await other.acquire(Priority.PROVISIONING)  # ...the other waits too
    assert first is not None and other.last_grant_at is not None
    assert other.last_grant_at - first >= 0.5 - 1e-4
    await other.aclose()


async def test_cancelled_waiter_leaves_the_queue(budget: RedisRateBudget, redis_url: str) -> None:
    budget.penalize(5)
    task = asyncio.create_task(budget.acquire(Priority.SYNC))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert redis.Redis.from_url(redis_url).zcard(budget._queue) == 0


def test_factory_uses_redis_when_configured(redis_url: str) -> None:
    try:
        reset_rate_budget()
        shared = get_rate_budget(Settings(redis_url=redis_url, sft_rate_limit_tps=2))
        assert isinstance(shared, RedisRateBudget) and shared.tps == 2
        reset_rate_budget()
        assert isinstance(get_rate_budget(Settings(redis_url=None)), LocalRateBudget)
    finally:
        reset_rate_budget()
