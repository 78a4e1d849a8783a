"""The scheduler and its leader lease on a real database: exactly one of two instances runs
jobs, the other takes over when the leader stops renewing (a "kill") or releases the lease;
jobs never overlap themselves and survive a failing run; the lifespan task and
``python -m travelsim.scheduler``.

Two scheduler instances live in one process with different holder ids; a "kill" is
``stop(release=False)``: the instance stops renewing without giving the lease up. Timing
values are only upper bounds for waiting; nothing asserts how long anything took."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from travelsim import db
from travelsim.models import JobRun, SchedulerLease
from travelsim.scheduler import BackgroundScheduler, JobSpec, LeaderLease, scheduler_lifespan
from travelsim.services.jobs import metering
from travelsim.settings import Settings, get_settings

TTL = 0.6
RENEW = 0.1


def fast(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(
        update={"scheduler_lease_seconds": TTL, "scheduler_lease_renew_seconds": RENEW, **extra}
    )


async def wait_until(predicate: Callable[[], Any], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def runs(job: str | None = None) -> list[JobRun]:
    async with db.session() as s:
        q = select(JobRun).order_by(col(JobRun.id))
        if job:
            q = q.where(col(JobRun.job) == job)
        return list((await s.exec(q)).all())


def probe() -> JobSpec:
    async def fn(stats: metering.RunStats) -> None:
        stats.items = 1

    return JobSpec("probe", 0.05, fn, first_delay_seconds=0)


async def test_exactly_one_leader_and_take_over_after_a_kill(sqlite_db: Settings) -> None:
    settings = fast(sqlite_db)
    a = BackgroundScheduler(settings, holder="worker-a", job_specs=[probe()])
    b = BackgroundScheduler(settings, holder="worker-b", job_specs=[probe()])
    await a.start()
    await wait_until(lambda: a.lease.is_leader)
    await b.start()
    both = 0
    for _ in range(40):  # while both run, never two leaders
        both += a.lease.is_leader and b.lease.is_leader
        await asyncio.sleep(0.025)
    assert both == 0
    await wait_until(lambda: _count(runs("probe"), 3))
    assert {r.holder for r in await runs("probe")} == {"worker-a"}

    async with db.session() as s:
        held = await s.get(SchedulerLease, "scheduler")
        assert held is not None and held.holder == "worker-a"
    await a.stop(release=False)  # the leader "dies": no release, no renewal
    async with db.session() as s:
        dead = await s.get(SchedulerLease, "scheduler", populate_existing=True)
        assert dead is not None
        last_expiry = dead.expires_at
    await wait_until(lambda: b.lease.is_leader)
    n_before = len(await runs("probe"))
    await wait_until(lambda: _count(runs("probe"), n_before + 3))
    after = (await runs("probe"))[n_before:]
    assert {r.holder for r in after} == {"worker-b"}
    async with db.session() as s:
        new = await s.get(SchedulerLease, "scheduler", populate_existing=True)
    assert new is not None and new.holder == "worker-b"
    # No overlap: B took the lease only once A's had expired.
    assert new.acquired_at >= last_expiry
    await b.stop()


async def _count(pending: Any, n: int) -> bool:
    return len(await pending) >= n


async def test_clean_stop_hands_over_at_once_and_restart_rejoins(sqlite_db: Settings) -> None:
    settings = fast(sqlite_db, scheduler_lease_seconds=30.0)  # a long lease
    a = BackgroundScheduler(settings, holder="worker-a", job_specs=[probe()])
    b = BackgroundScheduler(settings, holder="worker-b", job_specs=[probe()])
    await a.start()
    await wait_until(lambda: a.lease.is_leader)
    await b.start()
    await a.stop()  # releases: B need not wait the 30 s lease out
    await wait_until(lambda: b.lease.is_leader, timeout=10)
    a2 = BackgroundScheduler(settings, holder="worker-a2", job_specs=[probe()])
    await a2.start()
    await asyncio.sleep(0.3)
    assert b.lease.is_leader and not a2.lease.is_leader
    await a2.stop()
    await b.stop()


async def test_lease_compare_and_set(sqlite_db: Settings) -> None:
    one = LeaderLease("one", ttl_seconds=60)
    two = LeaderLease("two", ttl_seconds=60)
    assert await one.acquire()
    assert not await two.acquire()
    assert await one.acquire()  # renew
    assert one.is_leader and not two.is_leader
    await one.release()
    assert not one.is_leader
    assert await two.acquire()
    assert not await one.acquire()


async def test_jobs_do_not_overlap_and_survive_failures(sqlite_db: Settings) -> None:
    settings = fast(sqlite_db)
    active = 0
    peak = 0
    calls = 0

    async def slow(stats: metering.RunStats) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.25)  # longer than its 0.05 s interval
        finally:
            active -= 1

    async def flaky(stats: metering.RunStats) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("platform down")
        stats.items = calls

    sched = BackgroundScheduler(
        settings,
        holder="solo",
        job_specs=[
            JobSpec("slow", 0.05, slow, first_delay_seconds=0),
            JobSpec("flaky", 0.05, flaky, first_delay_seconds=0),
        ],
    )
    await sched.start()
    await wait_until(lambda: _count(runs("slow"), 3))
    await wait_until(lambda: _count(runs("flaky"), 2))
    await sched.stop()
    assert peak == 1
    flaky_runs = await runs("flaky")
    assert (flaky_runs[0].ok, flaky_runs[0].error) == (False, "RuntimeError: platform down")
    assert flaky_runs[1].ok


async def test_followers_do_not_run_jobs(sqlite_db: Settings) -> None:
    settings = fast(sqlite_db)
    other = LeaderLease("someone-else", ttl_seconds=3600)
    assert await other.acquire()
    follower = BackgroundScheduler(settings, holder="follower", job_specs=[probe()])
    await follower.start()
    await asyncio.sleep(0.5)
    assert not follower.lease.is_leader
    assert await runs("probe") == []
    await follower.stop()


async def test_lifespan_task_starts_and_stops_the_scheduler(
    sqlite_db: Settings, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SCHEDULER_ENABLED", "false")
    get_settings.cache_clear()
    async with scheduler_lifespan():
        await asyncio.sleep(0.1)
        async with db.session() as s:
            assert await s.get(SchedulerLease, "scheduler") is None
    monkeypatch.setenv("SCHEDULER_ENABLED", "true")
    monkeypatch.setenv("SCHEDULER_LEASE_RENEW_SECONDS", "0.1")
    monkeypatch.setenv("SFT_SIM_SEED_ESIMS", "3")
    for name in (
        "SYNC_INTERVAL_SECONDS",
        "CATALOGUE_SYNC_INTERVAL_SECONDS",
        "INVENTORY_SYNC_INTERVAL_SECONDS",
        "RECOVERY_INTERVAL_SECONDS",
        "NOTIFICATIONS_INTERVAL_SECONDS",
        "EMAIL_SEND_INTERVAL_SECONDS",
    ):
        monkeypatch.setenv(name, "3600")
    get_settings.cache_clear()
    async with scheduler_lifespan():

        async def holder() -> str | None:
            async with db.session() as s:
                row = await s.get(SchedulerLease, "scheduler", populate_existing=True)
                return row.holder if row else None

        await wait_until(holder)
    async with db.session() as s:
        row = await s.get(SchedulerLease, "scheduler", populate_existing=True)
    assert row is not None and row.expires_at < row.renewed_at + timedelta(seconds=1)
    from travelsim.models import utcnow

    assert row.expires_at <= utcnow()  # released at shutdown
    await db.async_engine().dispose()


async def test_runs_as_its_own_process(sqlite_db: Settings, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=str(sqlite_db.database_url),
        DATA_DIR=str(tmp_path),
        SFT_SIM_SEED_ESIMS="3",
        SCHEDULER_LEASE_RENEW_SECONDS="0.2",
        SYNC_INTERVAL_SECONDS="3600",
        CATALOGUE_SYNC_INTERVAL_SECONDS="0.5",
        INVENTORY_SYNC_INTERVAL_SECONDS="3600",
        RECOVERY_INTERVAL_SECONDS="3600",
        NOTIFICATIONS_INTERVAL_SECONDS="3600",
        EMAIL_SEND_INTERVAL_SECONDS="3600",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "travelsim.scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # The catalogue job runs as the leader (its first run is 0.5 s after start).
        await wait_until(lambda: _count(runs("catalogue"), 1), timeout=60)
        (run,) = (await runs("catalogue"))[:1]
        assert run.ok and run.calls >= 1 and run.holder and str(proc.pid) in run.holder
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    async with db.session() as s:
        row = await s.get(SchedulerLease, "scheduler", populate_existing=True)
    from travelsim.models import utcnow

    assert row is not None and row.expires_at <= utcnow()
    await db.async_engine().dispose()
