"""The shared SFT rate budget: priority-then-FIFO service and a rate that is never exceeded.

Most tests use a fake clock whose ``sleep`` advances it, so grant times are exact and no test
asserts on wall-clock durations; rates are checked by counting grants per window.
"""

from __future__ import annotations

import asyncio

import pytest

from travelsim.sft.ratelimit import LocalRateBudget, Priority, RateBudget

P, R, S = Priority.PROVISIONING, Priority.REFRESH, Priority.SYNC


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def max_grants_in_window(times: list[float], window: float) -> int:
    """The most grants in any half-open window [t, t + window) starting at a grant."""
    eps = 1e-9
    return max(sum(1 for u in times if t - eps <= u < t + window - eps) for t in times)


async def run_workers(
    budget: LocalRateBudget, plan: list[tuple[str, Priority]], clock: FakeClock | None = None
) -> list[tuple[str, float]]:
    grants: list[tuple[str, float]] = []

    async def worker(name: str, priority: Priority) -> None:
        await budget.acquire(priority)
        grants.append((name, clock() if clock else 0.0))

    await asyncio.gather(*(worker(n, p) for n, p in plan))
    return grants


def test_local_budget_satisfies_protocol() -> None:
    assert isinstance(LocalRateBudget(2), RateBudget)
    with pytest.raises(ValueError):
        LocalRateBudget(0)


async def test_contended_waiters_are_served_by_priority_then_fifo() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(5, clock=clock, sleep=clock.sleep)
    budget.penalize(1.0)  # everyone below queues up before the first grant
    plan = [
        ("s1", S),
        ("r1", R),
        ("s2", S),
        ("p1", P),
        ("r2", R),
        ("p2", P),
        ("s3", S),
        ("p3", P),
    ]
    grants = await run_workers(budget, plan, clock)
    assert [n for n, _ in grants] == ["p1", "p2", "p3", "r1", "r2", "s1", "s2", "s3"]


async def test_rate_is_never_exceeded_and_penalty_is_honoured() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(5, clock=clock, sleep=clock.sleep)
    start = clock.now
    plan = [(f"w{i}", [P, R, S][i % 3]) for i in range(40)]
    grants = await run_workers(budget, plan, clock)
    times = [t for _, t in grants]
    assert len(times) == 40
    assert max_grants_in_window(times, 1.0) <= 5
    assert max_grants_in_window(times, 0.2) <= 1  # burst 1: spaced at least 1/tps
    # 40 grants at 5/s, the first immediate: the last at start + 39/5 s, no earlier.
    assert times[-1] == pytest.approx(start + 39 / 5)

    budget.penalize(3.0)
    paused_at = clock.now
    more = await run_workers(budget, [("a", S), ("b", P)], clock)
    assert [n for n, _ in more] == ["b", "a"]
    assert all(t >= paused_at + 3.0 for _, t in more)


async def test_burst_allows_at_most_burst_plus_rate() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(2, burst=3, clock=clock, sleep=clock.sleep)
    clock.now += 10  # bucket full
    grants = await run_workers(budget, [(f"w{i}", S) for i in range(20)], clock)
    times = [t for _, t in grants]
    assert max_grants_in_window(times, 1.0) <= 3 + 2
    assert max_grants_in_window(times[3:], 1.0) <= 2  # steady state after the burst


async def test_late_provisioning_overtakes_queued_sync() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(4, clock=clock, sleep=clock.sleep)
    order: list[str] = []
    spawned: list[asyncio.Task[None]] = []

    async def sync_worker(name: str) -> None:
        await budget.acquire(S)
        order.append(name)
        if name == "s1":
            spawned.append(asyncio.create_task(prov_worker()))

    async def prov_worker() -> None:
        await budget.acquire(P)
        order.append("p-late")

    budget.penalize(0.5)
    await asyncio.gather(*(sync_worker(f"s{i}") for i in range(1, 6)))
    await asyncio.gather(*spawned)
    assert order[:3] == ["s1", "p-late", "s2"]
    assert order[3:] == ["s3", "s4", "s5"]


async def test_cancelled_waiter_consumes_nothing() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(1, clock=clock, sleep=clock.sleep)
    budget.penalize(2.0)
    got: list[str] = []

    async def worker(name: str) -> None:
        await budget.acquire(S)
        got.append(name)

    doomed = asyncio.create_task(worker("doomed"))
    await asyncio.sleep(0)
    survivor = asyncio.create_task(worker("survivor"))
    await asyncio.sleep(0)
    assert budget.waiting == 2
    doomed.cancel()
    await survivor
    assert got == ["survivor"]
    assert clock.now == pytest.approx(100.0 + 2.0)  # granted at the end of the pause


async def test_uncontended_acquire_is_immediate() -> None:
    clock = FakeClock()
    budget = LocalRateBudget(2, clock=clock, sleep=clock.sleep)
    await budget.acquire(S)
    assert clock.now == 100.0


async def test_real_clock_tiny_intervals_priority_order() -> None:
    """Same contract with the real clock and asyncio.sleep (tps 200 -> 5 ms spacing)."""
    budget = LocalRateBudget(200)
    budget.penalize(0.05)
    plan = [(f"{p.name[0]}{i}", p) for i in range(6) for p in (S, R, P)]
    grants = await run_workers(budget, plan)
    names = [n for n, _ in grants]
    assert names == [f"P{i}" for i in range(6)] + [f"R{i}" for i in range(6)] + [
        f"S{i}" for i in range(6)
    ]


async def test_budget_survives_a_new_event_loop() -> None:
    """A process-wide budget outlives per-test loops: a dispatcher from a dead loop is
    replaced, not awaited."""
    budget = LocalRateBudget(1000)

    def in_new_loop() -> None:
        async def go() -> None:
            budget.penalize(0.01)
            await asyncio.gather(*(budget.acquire(S) for _ in range(3)))

        asyncio.run(go())

    await asyncio.to_thread(in_new_loop)
    budget.penalize(0.01)
    await asyncio.wait_for(asyncio.gather(*(budget.acquire(P) for _ in range(3))), 5)
