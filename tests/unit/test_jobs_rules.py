"""Pure rules of the background jobs: usage-sync ordering, the metered budget, viewed marks
and the health of a run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

from pydantic import SecretStr

from travelsim.models import JobRun
from travelsim.scheduler import default_jobs
from travelsim.services.jobs import metering, sync_plan, viewed
from travelsim.settings import Settings
from travelsim.sft import Priority, SFTClient

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_sync_order_viewed_then_urgent_then_least_recently_refreshed() -> None:
    cands = [
        sync_plan.SyncCandidate(1, T0 + timedelta(minutes=5)),
        sync_plan.SyncCandidate(2, None),  # never refreshed: first among the rest
        sync_plan.SyncCandidate(3, T0 + timedelta(minutes=1)),
        sync_plan.SyncCandidate(4, T0 + timedelta(minutes=9), urgent=True),
        sync_plan.SyncCandidate(5, T0 + timedelta(minutes=2), urgent=True),
        sync_plan.SyncCandidate(6, T0 + timedelta(minutes=30), viewed=True),
        sync_plan.SyncCandidate(7, T0 + timedelta(minutes=3), viewed=True, urgent=True),
    ]
    assert sync_plan.order_for_sync(cands) == [7, 6, 5, 4, 2, 3, 1]


class Recorder:
    def __init__(self) -> None:
        self.acquired: list[Priority] = []
        self.penalties: list[float] = []

    async def acquire(self, priority: Priority) -> None:
        self.acquired.append(priority)

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)


async def test_metered_budget_counts_per_run_and_forwards() -> None:
    inner = Recorder()
    meter = metering.MeteredBudget(inner)

    async def run_a(stats: metering.RunStats) -> None:
        for _ in range(3):
            await meter.acquire(Priority.SYNC)
        meter.penalize(1.0)

    async def run_b(stats: metering.RunStats) -> None:
        await asyncio.gather(*(meter.acquire(Priority.SYNC) for _ in range(2)))

    stats_a, stats_b = metering.RunStats(), metering.RunStats()
    token = metering._current_run.set(stats_a)
    try:
        task_a = asyncio.create_task(run_a(stats_a))
    finally:
        metering._current_run.reset(token)
    token = metering._current_run.set(stats_b)
    try:
        task_b = asyncio.create_task(run_b(stats_b))
    finally:
        metering._current_run.reset(token)
    await asyncio.gather(task_a, task_b)
    await meter.acquire(Priority.REFRESH)  # outside any run
    assert (stats_a.calls, stats_a.rate_limited) == (3, 1)
    assert (stats_b.calls, stats_b.rate_limited) == (2, 0)
    assert (meter.calls, meter.rate_limited) == (6, 1)
    assert inner.acquired[-1] is Priority.REFRESH and inner.penalties == [1.0]


def test_viewed_marks_expire() -> None:
    viewed.clear_viewed()
    viewed.mark_viewed(1, seconds=60)
    viewed.mark_viewed(2, seconds=0)
    assert viewed.viewed_esims() == {1}
    viewed.clear_viewed()
    assert viewed.viewed_esims() == set()


def _run(**kw: object) -> JobRun:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    values: dict[str, object] = {"job": "usage_sync", "started_at": now, "finished_at": now}
    values.update(kw)
    return JobRun(**values)


def test_job_health() -> None:
    now = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    assert metering.job_health(_run(), now, 60) == "ok"
    assert metering.job_health(_run(rate_limited=1), now, 60) == "degraded"
    assert metering.job_health(_run(errors=2), now, 60) == "degraded"
    assert metering.job_health(_run(ok=False), now, 60) == "failing"
    late = now + timedelta(seconds=181)  # more than 3 intervals of 60 s since the run
    assert metering.job_health(_run(), late, 60) == "stale"
    assert metering.job_health(_run(), late, None) == "ok"
    exactly = datetime(2026, 3, 1, 12, 3, tzinfo=UTC)  # 3 intervals after the run: not yet
    assert metering.is_stale(_run(), exactly, 60) is False
    assert metering.is_stale(_run(), late, 60) is True


def test_every_scheduled_job_has_its_interval_setting() -> None:
    """The job names the scheduler records are the ones the health rules know, each with
    the interval it is scheduled at."""
    settings = Settings(_env_file=None, sft_callback_token=SecretStr("t"))  # type: ignore[call-arg]
    specs = default_jobs(cast(SFTClient, None), settings)
    assert {s.name for s in specs} == set(metering.JOB_INTERVALS)
    for spec in specs:
        assert metering.job_interval(settings, spec.name) == spec.interval_seconds
    assert metering.job_interval(settings, "not_a_job") is None
