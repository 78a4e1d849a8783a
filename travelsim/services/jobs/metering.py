"""What one run of a background job did, and how healthy it was. No Reflex, no APScheduler.

:func:`record_run` wraps one run: it times it, catches and logs its exception (the scheduler
tries again on the next tick) and stores a :class:`~travelsim.models.JobRun` row with the
figures the job put in its :class:`RunStats`.

SFT requests and HTTP 429 answers of a run are counted by :class:`MeteredBudget`, a
:class:`~travelsim.sft.ratelimit.RateBudget` wrapper the scheduler's client is built with: it
attributes each request to the run whose task made it (a ``contextvars`` variable), so runs
that overlap are still counted apart.

Health of a run (:func:`job_health`, shown on the staff overview; the ``/status`` page reads
the same staleness rule, :func:`is_stale`): ``failing`` when it raised, ``stale`` when it
finished more than :data:`STALE_INTERVALS` intervals of its job ago (:data:`JOB_INTERVALS`),
``degraded`` with item errors or HTTP 429 answers, else ``ok``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import JobRun, utcnow
from travelsim.settings import Settings
from travelsim.sft.models import Priority
from travelsim.sft.ratelimit import RateBudget

__all__ = [
    "JOB_INTERVALS",
    "STALE_INTERVALS",
    "Clock",
    "JobHealth",
    "MeteredBudget",
    "RunStats",
    "is_stale",
    "job_health",
    "job_interval",
    "last_runs",
    "record_run",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Each scheduled job (``JobRun.job``) and the setting holding its interval in seconds.
JOB_INTERVALS: dict[str, str] = {
    "usage_sync": "sync_interval_seconds",
    "catalogue": "catalogue_sync_interval_seconds",
    "inventory": "inventory_sync_interval_seconds",
    "recovery": "recovery_interval_seconds",
    "notifications": "notifications_interval_seconds",
    "email": "email_send_interval_seconds",
    "callbacks": "callback_process_interval_seconds",
    "reconciliation": "reconciliation_interval_seconds",
}
#: A run that finished more than this many intervals of its job ago is stale.
STALE_INTERVALS = 3

JobHealth = Literal["ok", "degraded", "stale", "failing"]


# ============================================================================ run figures
@dataclass
class RunStats:
    """Figures of one job run, filled by the job and by :class:`MeteredBudget`.

    ``calls``: SFT requests (logins and 429 resends included); ``rate_limited``: HTTP 429
    answers; ``errors``: items that failed; ``items``: items handled;
    ``oldest_figure_age_seconds``: usage sync only; ``detail``: job-specific JSON.
    """

    calls: int = 0
    rate_limited: int = 0
    errors: int = 0
    items: int = 0
    oldest_figure_age_seconds: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_current_run: contextvars.ContextVar[RunStats | None] = contextvars.ContextVar(
    "travelsim_job_run", default=None
)


class MeteredBudget:
    """A :class:`RateBudget` that forwards to ``inner`` and counts, into the
    :class:`RunStats` of the job run whose task makes the request, every grant (``calls``)
    and every 429 penalty (``rate_limited``). Totals over its lifetime are kept too."""

    def __init__(self, inner: RateBudget) -> None:
        self.inner = inner
        self.calls = 0
        self.rate_limited = 0

    async def acquire(self, priority: Priority) -> None:
        await self.inner.acquire(priority)
        self.calls += 1
        stats = _current_run.get()
        if stats is not None:
            stats.calls += 1

    def penalize(self, seconds: float) -> None:
        self.rate_limited += 1
        stats = _current_run.get()
        if stats is not None:
            stats.rate_limited += 1
        self.inner.penalize(seconds)


async def record_run(
    job: str,
    fn: Callable[[RunStats], Awaitable[object]],
    *,
    holder: str | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> JobRun:
    """Run ``fn(stats)`` as one run of ``job`` and store its :class:`JobRun` (committed).

    An exception of ``fn`` is logged and recorded (``ok=False``, ``error``), not raised: the
    next scheduled run is the retry. ``asyncio.CancelledError`` (shutdown) propagates after
    the row is written. Database errors while writing the row propagate.
    """
    stats = RunStats()
    token = _current_run.set(stats)
    started = clock()
    t0 = time.monotonic()
    ok, error = True, None
    cancelled: BaseException | None = None
    try:
        await fn(stats)
    except asyncio.CancelledError as exc:
        ok, error, cancelled = False, "cancelled", exc
    except Exception as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"[:500]
        log.exception("job %s failed; it runs again on its next tick", job)
    finally:
        _current_run.reset(token)
    row = JobRun(
        job=job,
        holder=holder,
        started_at=started,
        finished_at=clock(),
        duration_ms=int((time.monotonic() - t0) * 1000),
        ok=ok,
        error=error,
        calls=stats.calls,
        errors=stats.errors,
        rate_limited=stats.rate_limited,
        items=stats.items,
        oldest_figure_age_seconds=stats.oldest_figure_age_seconds,
        detail=stats.detail,
    )
    async with session_factory() as s:
        s.add(row)
        await s.commit()
        await s.refresh(row)
    log.info(
        "job run",
        extra={
            "job": job,
            "ok": ok,
            "duration_ms": row.duration_ms,
            "calls": stats.calls,
            "rate_limited": stats.rate_limited,
            "items": stats.items,
            "errors": stats.errors,
        },
    )
    if cancelled is not None:
        raise cancelled
    return row


# ============================================================================ health
def job_interval(settings: Settings, job: str) -> float | None:
    """Seconds between two runs of ``job`` (:data:`JOB_INTERVALS`), ``None`` for a job the
    scheduler does not run."""
    attr = JOB_INTERVALS.get(job)
    return float(getattr(settings, attr)) if attr else None


def is_stale(run: JobRun, now: datetime, interval_seconds: float | None) -> bool:
    """True when ``run`` finished (or, unfinished, started) more than
    :data:`STALE_INTERVALS` times ``interval_seconds`` before ``now`` (aware UTC). Never stale
    without an interval."""
    if not interval_seconds:
        return False
    finished = run.finished_at or run.started_at
    return (now - finished).total_seconds() > STALE_INTERVALS * interval_seconds


def job_health(run: JobRun, now: datetime, interval_seconds: float | None) -> JobHealth:
    """``failing`` (the run raised), ``stale`` (:func:`is_stale`: no run for 3 intervals),
    ``degraded`` (item errors or HTTP 429 answers), else ``ok``."""
    if not run.ok:
        return "failing"
    if is_stale(run, now, interval_seconds):
        return "stale"
    if run.errors or run.rate_limited:
        return "degraded"
    return "ok"


async def last_runs(session: AsyncSession) -> list[JobRun]:
    """The newest run (by start) of each job, as the admin home page and ``/metrics`` show it."""
    jobs = (await session.execute(select(col(JobRun.job)).distinct())).scalars().all()
    runs = []
    for job in sorted(jobs):
        run = (
            await session.exec(
                select(JobRun)
                .where(col(JobRun.job) == job)
                .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
                .limit(1)
            )
        ).first()
        if run is not None:
            runs.append(run)
    return runs
