"""The shared rate limits (travelsim.services.rate_limits) and the client-address rule
(docs/architecture.md#rate-limits), in memory; the Redis storage is proven in
tests/load/test_attack.py."""

from __future__ import annotations

import asyncio

import pytest

from travelsim.routes.http import forwarded_client
from travelsim.services import rate_limits


@pytest.fixture(autouse=True)
async def _fresh() -> None:
    await rate_limits.reset_all()


async def test_limit_counts_per_key_and_refuses_beyond_its_amount() -> None:
    limit = rate_limits.Limit("unit-a", "3/minute")
    assert limit.amount == 3 and limit.window_seconds == 60
    answers = [await rate_limits.hit(limit, "k1") for _ in range(5)]
    assert answers == [True, True, True, False, False]
    assert await rate_limits.hit(limit, "k2") is True  # another key has its own window
    assert await rate_limits.allowed(limit, "k1") is False
    assert 0 < await rate_limits.retry_after(limit, "k1") <= 60
    await rate_limits.clear(limit, "k1")
    assert await rate_limits.allowed(limit, "k1") is True
    assert await rate_limits.retry_after(limit, "k1") == 0


async def test_parallel_hits_never_pass_more_than_the_limit() -> None:
    limit = rate_limits.Limit("unit-b", "5/minute")
    answers = await asyncio.gather(*(rate_limits.hit(limit, "x") for _ in range(41)))
    assert sum(answers) == 5


@pytest.mark.parametrize(
    ("peer", "header", "hops", "expected"),
    [
        ("10.0.0.2", None, 0, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.7", 0, "10.0.0.2"),  # header ignored without trusted hops
        ("10.0.0.2", "198.51.100.7", 1, "198.51.100.7"),
        # A client-written entry sits left of what the proxy appended: it is not chosen.
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", 1, "198.51.100.7"),
        ("10.0.0.3", "6.6.6.6, 198.51.100.7, 10.0.0.2", 2, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7", 2, "10.0.0.2"),  # fewer entries than hops: the peer
    ],
)
def test_forwarded_client(peer: str, header: str | None, hops: int, expected: str) -> None:
    assert forwarded_client(peer, header, hops) == expected


async def test_memory_hits_start_no_thread_and_expired_windows_are_swept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    limit = rate_limits.Limit("unit-sweep", "2/second")
    before = threading.active_count()
    for i in range(50):  # fifty travelers' windows, as fifty checkout starts make them
        assert await rate_limits.hit(limit, f"t{i}") is True
    assert threading.active_count() == before  # limits' own storage starts a timer per hit
    _, memory = rate_limits._storage()
    assert len(memory.events) == 50
    await asyncio.sleep(1.05)  # every window is over; nothing swept yet (not due)
    assert len(memory.events) == 50
    assert await rate_limits.hit(limit, "t0") is True  # the counts never wait for a sweep
    monkeypatch.setattr(rate_limits, "SWEEP_SECONDS", 0.0)
    assert await rate_limits.hit(limit, "t1") is True  # due now: swept in this call
    assert sorted(key.split("/")[2] for key in memory.events) == ["t0", "t1"]
