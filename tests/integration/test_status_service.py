"""``services.status``: what ``/status`` shows, from recorded job runs; a visitor never
causes more than one SFT request per minute per process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from travelsim import db
from travelsim.models import JobRun
from travelsim.services import status
from travelsim.settings import Settings, get_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class CountingProbe:
    def __init__(self, answer: bool = True) -> None:
        self.calls = 0
        self.answer = answer

    async def __call__(self) -> bool:
        self.calls += 1
        await asyncio.sleep(0.01)
        return self.answer


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    status.reset_probe_cache()


async def add_run(job: str, finished: datetime, **fields: object) -> None:
    async with db.session() as s:
        s.add(
            JobRun(
                job=job, started_at=finished - timedelta(seconds=2), finished_at=finished, **fields
            )
        )
        await s.commit()


async def test_recent_sft_job_run_answers_without_asking_the_platform(
    sqlite_db: Settings, dispose_engines: None
) -> None:
    probe = CountingProbe()
    # Usage sync every 60 s: a run 2 min ago (< 3 intervals) that synced eSIMs.
    await add_run("usage_sync", NOW - timedelta(minutes=2), calls=4, items=2)
    # A job that does not call SFT says nothing about it.
    await add_run("email", NOW - timedelta(seconds=5), calls=0, items=3)
    view = await status.service_status(now=NOW, probe=probe)
    assert view.portal_ok
    assert view.platform == "reachable"
    assert view.platform_checked_at == NOW - timedelta(minutes=2)
    assert view.last_usage_sync_at == NOW - timedelta(minutes=2)
    assert probe.calls == 0


async def test_failed_runs_mean_unreachable_and_are_not_a_successful_sync(
    sqlite_db: Settings, dispose_engines: None
) -> None:
    probe = CountingProbe()
    await add_run("usage_sync", NOW - timedelta(minutes=30), calls=3, items=3)  # the good one
    await add_run("usage_sync", NOW - timedelta(minutes=1), calls=5, items=0, errors=5)
    await add_run("inventory", NOW - timedelta(seconds=30), calls=1, ok=False, error="x")
    view = await status.service_status(now=NOW, probe=probe)
    assert view.platform == "unreachable"
    assert view.platform_checked_at == NOW - timedelta(seconds=30)
    assert view.last_usage_sync_at == NOW - timedelta(minutes=30)
    assert probe.calls == 0


async def test_without_recent_evidence_one_cached_check_serves_every_visitor(
    sqlite_db: Settings, dispose_engines: None
) -> None:
    probe = CountingProbe()
    # Inventory every 600 s: 31 min ago is stale (> 3 intervals).
    await add_run("inventory", NOW - timedelta(minutes=31), calls=1, items=1)
    views = await asyncio.gather(*(status.service_status(now=NOW, probe=probe) for _ in range(50)))
    assert probe.calls == 1
    assert {v.platform for v in views} == {"reachable"}
    assert {v.last_usage_sync_at for v in views} == {None}
    again = await status.service_status(now=NOW, probe=probe)
    assert again.platform == "reachable" and probe.calls == 1


async def test_cached_check_expires_after_its_ttl() -> None:
    clock = [1000.0]
    probe = CountingProbe(answer=False)
    assert (await status.cached_probe(probe, monotonic=lambda: clock[0]))[0] is False
    clock[0] += status.PROBE_TTL_SECONDS - 1
    await status.cached_probe(probe, monotonic=lambda: clock[0])
    assert probe.calls == 1
    clock[0] += 2
    await status.cached_probe(probe, monotonic=lambda: clock[0])
    assert probe.calls == 2


async def test_a_probe_that_raises_counts_as_unreachable() -> None:
    async def broken() -> bool:
        raise RuntimeError("boom")

    reachable, checked_at = await status.cached_probe(broken)
    assert reachable is False and checked_at.tzinfo is not None


async def test_database_down_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:9/none")
    get_settings.cache_clear()
    db.reset_engines()
    probe = CountingProbe()
    try:
        view = await status.service_status(now=NOW, probe=probe)
    finally:
        get_settings.cache_clear()
        db.reset_engines()
    assert not view.portal_ok
    assert view.platform == "unknown" and probe.calls == 0
