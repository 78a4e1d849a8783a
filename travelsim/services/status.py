"""The service status shown to travelers (``/status``): portal up, platform reachable, and
when data usage figures were last brought in from the platform.

No visitor ever causes an SFT request by opening the page. Reachability comes from the
background jobs that already talk to SFT (usage sync, inventory, catalogue; their runs are
stored as :class:`~travelsim.models.JobRun` rows, the same ones the staff overview reads):
the most recent run that sent SFT requests and is not stale (``jobs.metering.is_stale``, the
rule of the staff overview's job health) says whether the platform answered. Only when no such run
exists (scheduler switched off, or just started) is the platform asked once, with one cheap
``fetchSIM`` (``services.admin.check_sft``), and the answer is kept for
:data:`PROBE_TTL_SECONDS` for every visitor of the process: one request per minute per
process at most, however many visitors (docs/architecture.md#status-page).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import JobRun, utcnow
from travelsim.services.jobs.metering import is_stale, job_interval
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Background jobs whose runs call SFT (their intervals: ``jobs.metering.JOB_INTERVALS``).
SFT_JOBS = ("usage_sync", "inventory", "catalogue")
#: How long one live reachability check answers for every visitor (seconds).
PROBE_TTL_SECONDS = 60.0

Platform = Literal["reachable", "unreachable", "unknown"]
Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class ServiceStatus:
    """What ``/status`` shows.

    ``portal_ok``: the portal's database answered. ``platform``: SFT answered the latest
    evidence (``"unknown"``: nothing to go by and no check possible). ``platform_checked_at``
    (UTC): when that evidence was gathered. ``last_usage_sync_at`` (UTC): end of the last
    successful usage sync run (it did not raise, and it synced an eSIM or none failed);
    ``None``: none yet.
    """

    portal_ok: bool
    platform: Platform
    platform_checked_at: datetime | None
    last_usage_sync_at: datetime | None


@dataclass
class _ProbeCache:
    at_monotonic: float
    reachable: bool
    checked_at: datetime


_probe_cache: _ProbeCache | None = None
_probe_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None


def _lock() -> asyncio.Lock:
    """The check's lock for the running event loop (re-made if the loop changed)."""
    global _probe_lock
    loop = asyncio.get_running_loop()
    if _probe_lock is None or _probe_lock[0] is not loop:
        _probe_lock = (loop, asyncio.Lock())
    return _probe_lock[1]


def reset_probe_cache() -> None:
    """Forget the cached live check (tests)."""
    global _probe_cache
    _probe_cache = None


def _run_answered(run: JobRun) -> bool:
    """The platform answered this run: it did not raise, and its items did not all fail."""
    return run.ok and (run.errors == 0 or run.items > 0)


async def last_successful_usage_sync(session: AsyncSession) -> datetime | None:
    """End (UTC) of the latest usage sync run that did not raise and synced at least one
    eSIM or had none fail; ``None`` when there is none."""
    run = (
        await session.exec(
            select(JobRun)
            .where(
                col(JobRun.job) == "usage_sync",
                col(JobRun.ok).is_(True),
                or_(col(JobRun.errors) == 0, col(JobRun.items) > 0),
            )
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(1)
        )
    ).first()
    if run is None:
        return None
    return run.finished_at or run.started_at


async def platform_from_jobs(
    session: AsyncSession, settings: Settings, now: datetime
) -> tuple[Platform, datetime | None]:
    """Reachability from the latest non-stale run of :data:`SFT_JOBS` that sent SFT
    requests: ``("reachable"|"unreachable", its end)``, or ``("unknown", None)``."""
    runs = (
        await session.exec(
            select(JobRun)
            .where(col(JobRun.job).in_(list(SFT_JOBS)), col(JobRun.calls) > 0)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(20)
        )
    ).all()
    for run in runs:
        if is_stale(run, now, job_interval(settings, run.job)):
            continue
        return ("reachable" if _run_answered(run) else "unreachable"), (
            run.finished_at or run.started_at
        )
    return "unknown", None


async def _default_probe() -> bool:
    from travelsim.services import admin, platform

    ok, _text = await admin.check_sft(platform.sft_client())
    return ok


async def cached_probe(
    probe: Probe | None = None, *, monotonic: Callable[[], float] = time.monotonic
) -> tuple[bool, datetime]:
    """``(reachable, checked_at UTC)`` from a live check at most once per
    :data:`PROBE_TTL_SECONDS` in this process; concurrent callers wait for the one check.
    ``probe`` (default: one ``fetchSIM``) returns True when SFT answered; it must not raise
    (an exception counts as unreachable and is logged)."""
    global _probe_cache
    async with _lock():
        cached = _probe_cache
        if cached is not None and monotonic() - cached.at_monotonic < PROBE_TTL_SECONDS:
            return cached.reachable, cached.checked_at
        try:
            reachable = await (probe or _default_probe)()
        except Exception as exc:
            log.warning("status: platform check failed (%s)", type(exc).__name__)
            reachable = False
        _probe_cache = _ProbeCache(monotonic(), reachable, utcnow())
        return reachable, _probe_cache.checked_at


async def service_status(
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    probe: Probe | None = None,
) -> ServiceStatus:
    """The figures of ``/status`` (see :class:`ServiceStatus`). Never raises for a
    database or platform failure: they are what it reports."""
    cfg = settings or get_settings()
    at = now or utcnow()
    try:
        await db.ping()
        async with db.session() as s:
            platform, checked_at = await platform_from_jobs(s, cfg, at)
            last_sync = await last_successful_usage_sync(s)
    except Exception as exc:  # any driver error: the database is unreachable
        log.warning("status: database unreachable (%s)", type(exc).__name__)
        return ServiceStatus(False, "unknown", None, None)
    if platform == "unknown":
        reachable, checked_at = await cached_probe(probe)
        platform = "reachable" if reachable else "unreachable"
    return ServiceStatus(True, platform, checked_at, last_sync)
