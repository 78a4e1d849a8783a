"""The background scheduler: APScheduler (``AsyncIOScheduler``) running ``services.jobs.runs``.

Run it either inside the Reflex backend, as a lifespan task (``travelsim/travelsim.py``)::

    from travelsim.scheduler import scheduler_lifespan
    app.register_lifespan_task(scheduler_lifespan)

or as its own process (then set ``SCHEDULER_ENABLED=false`` for the web workers, or leave it
on: the lease below keeps one leader anyway)::

    python -m travelsim.scheduler

Leader lease
============
Lifespan tasks run once per backend worker (docs/architecture.md#scheduler), so every worker
starts a scheduler, but only the holder of the database lease (:class:`LeaderLease`,
``scheduler_lease`` table) runs jobs. Every ``SCHEDULER_LEASE_RENEW_SECONDS`` each instance
runs a compare-and-set ``UPDATE … WHERE name='scheduler' AND (holder = me OR expires_at <
now)`` that sets ``expires_at = now + SCHEDULER_LEASE_SECONDS``: the leader renews, the others
take the lease only once it has expired. An instance counts itself leader only until its last
successful renewal *started* + the lease duration (monotonic clock), so a leader cut off from
the database stops running jobs before another can take over. When the leader dies (or stops
renewing), another instance takes over at most ``SCHEDULER_LEASE_SECONDS +
SCHEDULER_LEASE_RENEW_SECONDS`` after its last renewal. A clean shutdown releases the lease
(expires it now) so the hand-over is immediate. Assumes the instances' UTC clocks agree to
well under the lease duration.

Jobs (intervals from settings; ``services.jobs.runs`` documents each)
=====================================================================
``usage_sync`` (``SYNC_INTERVAL_SECONDS``), ``catalogue``
(``CATALOGUE_SYNC_INTERVAL_SECONDS``), ``inventory`` (``INVENTORY_SYNC_INTERVAL_SECONDS``),
``recovery`` (``RECOVERY_INTERVAL_SECONDS``), ``notifications``
(``NOTIFICATIONS_INTERVAL_SECONDS``), ``email`` (``EMAIL_SEND_INTERVAL_SECONDS``),
``reconciliation`` (``RECONCILIATION_INTERVAL_SECONDS``, daily; first run a minute after
start), ``callbacks`` (``CALLBACK_PROCESS_INTERVAL_SECONDS``, only with ``SFT_CALLBACK_TOKEN``
set). Each job: ``max_instances=1`` (a run never overlaps itself; a tick that comes while it
runs is skipped), ``coalesce=True`` (missed ticks collapse into one), coroutine jobs on the
running event loop (all I/O is async; SMTP runs in a thread), and a failing run is logged and
recorded (``JobRun.ok = False``), then simply runs again on its next tick. Every run of the
leader writes a ``JobRun`` row.

The scheduler's SFT client shares the process-wide rate budget (``sft.factory``) through a
``metering.MeteredBudget`` that counts calls and 429s per run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import case, or_, update
from sqlalchemy.exc import IntegrityError

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import SchedulerLease, utcnow
from travelsim.services.jobs import metering, reconcile, runs
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient

__all__ = [
    "LEASE_NAME",
    "BackgroundScheduler",
    "JobSpec",
    "LeaderLease",
    "default_jobs",
    "main",
    "scheduler_lifespan",
]

log = logging.getLogger(__name__)

JobFn = Callable[[metering.RunStats], Awaitable[Any]]

LEASE_NAME = "scheduler"


def new_holder_id() -> str:
    """``host:pid:random`` identifying one scheduler instance (max 64 characters)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ============================================================================ lease
class LeaderLease:
    """The database leader lease (module docstring) for one scheduler instance.

    Args:
        holder: this instance's id (unique among instances).
        ttl_seconds: lease duration written at each acquire/renew.
        name: lease row name.
        session_factory / clock / monotonic: injectable (tests).
    """

    def __init__(
        self,
        holder: str,
        *,
        ttl_seconds: float,
        name: str = LEASE_NAME,
        session_factory: SessionFactory = db.session,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.holder = holder
        self.name = name
        self.ttl = timedelta(seconds=ttl_seconds)
        self._factory = session_factory
        self._clock = clock
        self._monotonic = monotonic
        self._valid_until = 0.0

    @property
    def is_leader(self) -> bool:
        """True while this instance's lease is certainly still valid."""
        return self._monotonic() < self._valid_until

    async def acquire(self) -> bool:
        """Acquire or renew the lease; True when this instance holds it afterwards. Database
        errors propagate (the caller then stays leader only until the local expiry)."""
        started = self._monotonic()
        now = self._clock()
        expires = now + self.ttl
        async with self._factory() as s:
            result: Any = await s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,  # type: ignore[arg-type]
                    or_(
                        SchedulerLease.holder == self.holder,  # type: ignore[arg-type]
                        SchedulerLease.expires_at < now,  # type: ignore[arg-type]
                    ),
                )
                .values(
                    holder=self.holder,
                    renewed_at=now,
                    expires_at=expires,
                    acquired_at=case(
                        (SchedulerLease.holder == self.holder, SchedulerLease.acquired_at),  # type: ignore[arg-type]
                        else_=now,
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            won = result.rowcount == 1
            if not won and await s.get(SchedulerLease, self.name) is None:
                s.add(
                    SchedulerLease(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=expires,
                    )
                )
                try:
                    await s.commit()
                    won = True
                except IntegrityError:
                    await s.rollback()
                    won = False
            else:
                await s.commit()
        was = self.is_leader
        if won:
            self._valid_until = started + self.ttl.total_seconds()
            if not was:
                log.info(
                    "scheduler lease acquired by %s", self.holder, extra={"holder": self.holder}
                )
        else:
            self._valid_until = 0.0
            if was:
                log.warning(
                    "scheduler lease lost by %s", self.holder, extra={"holder": self.holder}
                )
        return won

    async def release(self) -> None:
        """Give the lease up now (clean shutdown) so another instance takes over at once."""
        self._valid_until = 0.0
        now = self._clock()
        async with self._factory() as s:
            await s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,  # type: ignore[arg-type]
                    SchedulerLease.holder == self.holder,  # type: ignore[arg-type]
                )
                .values(expires_at=now - timedelta(microseconds=1))
                .execution_options(synchronize_session=False)
            )
            await s.commit()
        log.info("scheduler lease released by %s", self.holder, extra={"holder": self.holder})


# ============================================================================ scheduler
@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: ``fn(stats)`` every ``interval_seconds``, first run after
    ``first_delay_seconds`` (default: the interval, capped at 5 s)."""

    name: str
    interval_seconds: float
    fn: JobFn
    first_delay_seconds: float | None = None


def default_jobs(
    client: SFTClient,
    settings: Settings,
    *,
    session_factory: SessionFactory = db.session,
    clock: Callable[[], datetime] = utcnow,
) -> list[JobSpec]:
    """The product's jobs (module docstring) bound to ``client`` and ``settings``."""
    kw: dict[str, Any] = {"session_factory": session_factory}
    specs = [
        JobSpec(
            "usage_sync",
            settings.sync_interval_seconds,
            lambda st: runs.run_usage_sync(client, st, settings=settings, clock=clock, **kw),
        ),
        JobSpec(
            "catalogue",
            settings.catalogue_sync_interval_seconds,
            lambda st: runs.run_catalogue(client, st, **kw),
        ),
        JobSpec(
            "inventory",
            settings.inventory_sync_interval_seconds,
            lambda st: runs.run_inventory(client, st, settings=settings, clock=clock, **kw),
        ),
        JobSpec(
            "recovery",
            settings.recovery_interval_seconds,
            lambda st: runs.run_recovery(client, st, settings=settings, clock=clock, **kw),
        ),
        JobSpec(
            "notifications",
            settings.notifications_interval_seconds,
            lambda st: runs.run_notifications(st, settings=settings, clock=clock, **kw),
        ),
        JobSpec(
            "email",
            settings.email_send_interval_seconds,
            lambda st: runs.run_email(st, settings=settings),
        ),
        JobSpec(
            "reconciliation",
            settings.reconciliation_interval_seconds,
            lambda st: reconcile.run_reconciliation(
                client, st, settings=settings, clock=clock, **kw
            ),
            first_delay_seconds=60.0,
        ),
    ]
    if settings.sft_callback_token is not None:
        specs.append(
            JobSpec(
                "callbacks",
                settings.callback_process_interval_seconds,
                lambda st: runs.run_callback_sweep(st, settings=settings, clock=clock, **kw),
            )
        )
    return specs


class BackgroundScheduler:
    """An ``AsyncIOScheduler`` with the leader lease and the jobs (module docstring).

    Args:
        settings: default :func:`get_settings`.
        holder: instance id (default :func:`new_holder_id`).
        job_specs: the jobs; default :func:`default_jobs` with the scheduler's client.
        client: SFT client for the default jobs; default one built from the settings that
            shares the process-wide rate budget through a :class:`metering.MeteredBudget`
            (closed on :meth:`stop`).
        session_factory / clock: injectable (tests).

    Use ``await start()`` / ``await stop()`` on a running event loop.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        holder: str | None = None,
        job_specs: list[JobSpec] | None = None,
        client: SFTClient | None = None,
        session_factory: SessionFactory = db.session,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings or get_settings()
        self.holder = holder or new_holder_id()
        self.lease = LeaderLease(
            self.holder,
            ttl_seconds=self.settings.scheduler_lease_seconds,
            session_factory=session_factory,
            clock=clock,
        )
        self._job_specs = job_specs
        self._client = client
        self._owns_client = False
        self._factory = session_factory
        self._clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def _default_client(self) -> SFTClient:
        from travelsim.sft.factory import build_client, get_rate_budget

        self._owns_client = True
        return build_client(
            self.settings, rate_budget=metering.MeteredBudget(get_rate_budget(self.settings))
        )

    async def start(self) -> None:
        """Start the scheduler on the running loop: try the lease at once, then renew it and
        run the jobs on their intervals."""
        if self._scheduler is not None:
            return
        specs = self._job_specs
        if specs is None:
            if self._client is None:
                self._client = self._default_client()
            specs = default_jobs(
                self._client, self.settings, session_factory=self._factory, clock=self._clock
            )
        sched = AsyncIOScheduler(
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        )
        now = datetime.now().astimezone()
        sched.add_job(
            self._renew,
            "interval",
            seconds=self.settings.scheduler_lease_renew_seconds,
            id="lease",
            next_run_time=now,
        )
        for spec in specs:
            delay = (
                spec.first_delay_seconds
                if spec.first_delay_seconds is not None
                else min(spec.interval_seconds, 5.0)
            )
            sched.add_job(
                self._run_job,
                "interval",
                seconds=spec.interval_seconds,
                args=[spec],
                id=spec.name,
                next_run_time=now + timedelta(seconds=delay),
            )
        sched.start()
        self._scheduler = sched
        log.info(
            "scheduler %s started (jobs run only while it holds the lease)",
            self.holder,
            extra={"holder": self.holder, "jobs": [s.name for s in specs]},
        )

    async def _renew(self) -> None:
        try:
            await self.lease.acquire()
        except Exception:
            log.exception("scheduler lease renewal failed")

    async def _run_job(self, spec: JobSpec) -> None:
        if not self.lease.is_leader:
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await metering.record_run(
                spec.name,
                spec.fn,
                holder=self.holder,
                session_factory=self._factory,
                clock=self._clock,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s could not be recorded", spec.name)
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self, *, release: bool = True) -> None:
        """Stop scheduling, cancel running job runs, release the lease (unless
        ``release=False``: as if the process died) and close the owned client."""
        sched, self._scheduler = self._scheduler, None
        if sched is not None:
            sched.shutdown(wait=False)
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running), timeout=10)
        if release:
            try:
                await self.lease.release()
            except Exception:
                log.exception("scheduler lease release failed")
        else:
            self.lease._valid_until = 0.0
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        log.info("scheduler %s stopped", self.holder, extra={"holder": self.holder})


@asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    """Reflex lifespan task: ``app.register_lifespan_task(scheduler_lifespan)``.

    Starts a :class:`BackgroundScheduler` in this worker unless ``SCHEDULER_ENABLED`` is
    false, and stops it (lease released) at shutdown. Never prevents the app from starting:
    a failure to start is logged.
    """
    settings = get_settings()
    if not settings.scheduler_enabled:
        yield
        return
    scheduler = BackgroundScheduler(settings)
    try:
        await scheduler.start()
    except Exception:
        log.exception("background scheduler failed to start")
    try:
        yield
    finally:
        await scheduler.stop()


async def _serve() -> None:
    settings = get_settings()
    scheduler = BackgroundScheduler(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - non-Unix
            pass
    await scheduler.start()
    try:
        await stop.wait()
    finally:
        await scheduler.stop()
        await db.async_engine().dispose()


def main() -> None:
    """``python -m travelsim.scheduler``: run the scheduler as its own process until SIGINT
    or SIGTERM (the database must be migrated: ``alembic upgrade head``). Refuses to start
    (exit status 1, one line each) when the start-up checks do (``travelsim.startup``)."""
    from travelsim import startup

    settings = startup.checked_settings("scheduler")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
