"""The background jobs run by ``travelsim.scheduler``. No Reflex, no APScheduler.

Each job is a plain ``async`` function taking the SFT client (when it needs one), a
:class:`RunStats` to fill, and injectable settings / session factory / clocks, so tests drive
them directly against the simulator. :func:`record_run` wraps one run: it times it, catches
and logs its exception (the scheduler tries again on the next tick) and stores a
:class:`~travelsim.models.JobRun` row.

SFT requests and HTTP 429 answers of a run are counted by :class:`MeteredBudget`, a
:class:`~travelsim.sft.ratelimit.RateBudget` wrapper the scheduler's client is built with: it
attributes each request to the run whose task made it (a ``contextvars`` variable), so runs
that overlap are still counted apart.

Usage sync (:func:`run_usage_sync`)
===================================
Candidates: every ``assigned`` eSIM with a live add-on at ``now`` (``waiting`` or
``active`` after ``topup.effective_status``), plus assigned eSIMs never synced yet. Order:

1. eSIMs being viewed (:func:`mark_viewed`, for ``SYNC_VIEWED_SECONDS``; shared by all
   workers through Redis when ``REDIS_URL`` is set, else per process);
2. eSIMs near empty (an active add-on ≥ ``SYNC_NEAR_EMPTY_PERCENT`` used) or near expiry (an
   active add-on expiring within ``SYNC_NEAR_EXPIRY_HOURS``);
3. the rest, least recently refreshed first (never synced first), which makes successive
   runs a round-robin.

Inside each group the least recently refreshed comes first. "Refreshed" is the last full sync
(``EsimSync.synced_at``); with platform callbacks on (``SFT_CALLBACK_TOKEN`` set) it is the
later of that and the last platform event received for the eSIM, so the budget goes where
events are missing, and an urgent eSIM that just got an event is no longer urgent.

A run syncs candidates one by one with ``usage.SYNC_CONCURRENCY`` workers at
``Priority.SYNC`` until the list is done or ``SYNC_FILL_FRACTION * SYNC_INTERVAL_SECONDS``
have passed (no new eSIM is started after that). The shared rate budget serves provisioning
and traveler refreshes first, so the sync gets exactly what they leave; its workers keep a
request always waiting, so that remainder is used fully. The budget spaces requests at the
account's TPS, so the platform never answers 429 while the budget is at (or under) the
account's limit and shared by every caller (one process, or a shared ``RateBudget``; with the
scheduler in its own process, give each process its share of ``SFT_RATE_LIMIT_TPS``).
Pages watching an eSIM whose figures changed are woken (``live.notify``) and its
notifications are evaluated at once.

The other jobs
==============
* :func:`run_catalogue`: ``catalogue.sync_plans``.
* :func:`run_inventory`: ``inventory.refill_pool`` (``Priority.SYNC``) then the free count;
  below ``LOW_STOCK_THRESHOLD`` staff are emailed once per crossing
  (:class:`~travelsim.models.StaffAlert` row inserted with the email; deleted when stock is
  back at or above the threshold).
* :func:`run_recovery`: releases expired checkout reservations (``inventory.release_expired``);
  resumes orders left mid-way (``paid`` and untouched for ``RECOVERY_PAID_GRACE_SECONDS``,
  ``paid`` with an automatic retry due, ``Order.next_attempt_at`` at or before now, or
  ``provisioning`` with an expired lease, ``provisioning.DEFAULT_LEASE``) with
  ``provisioning.run_order``, whose compare-and-set claim makes each resumption happen exactly
  once across processes. Automatic retries after transient faults are bounded by their
  window (``PROVISIONING_RETRY_HOURS``, enforced by provisioning); runs that ended otherwise
  (a crashed process, ``Order.attempts - Order.retry_count``) are bounded by
  ``RECOVERY_MAX_ATTEMPTS``: past it the order is escalated to ``needs_attention`` instead
  (payment voided, or flagged, as provisioning does;
  docs/business-rules.md#provisioning-retries, docs/business-rules.md#when-an-order-goes-to-staff).
* :func:`run_notifications`: ``notifications.evaluate``.
* :func:`run_email`: ``email.send_pending``.
* :func:`run_callback_sweep`: ``callbacks.process_pending`` for events left pending.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimSync,
    JobRun,
    Order,
    StaffAlert,
    User,
    utcnow,
)
from travelsim.services import (
    callbacks,
    catalogue,
    email,
    inventory,
    live,
    notifications,
    provisioning,
    usage,
)
from travelsim.services.topup import LIVE_STATUSES, effective_status
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.models import Priority
from travelsim.sft.ratelimit import RateBudget

__all__ = [
    "LOW_STOCK_ALERT",
    "MeteredBudget",
    "RunStats",
    "SyncCandidate",
    "clear_viewed",
    "mark_viewed",
    "order_for_sync",
    "record_run",
    "run_callback_sweep",
    "run_catalogue",
    "run_email",
    "run_inventory",
    "run_notifications",
    "run_recovery",
    "run_usage_sync",
    "sync_candidates",
    "viewed_esims",
]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Clock = Callable[[], datetime]
Monotonic = Callable[[], float]

#: ``StaffAlert.key`` of the low-stock alert.
LOW_STOCK_ALERT = "low_stock"
_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


# ============================================================================ run stats
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


# ============================================================================ viewed eSIMs
_viewed: dict[int, float] = {}
VIEWED_KEY = "travelsim:viewed-esims"
"""Redis sorted set (with ``REDIS_URL``): member eSIM id, score the mark's expiry (epoch s)."""
_viewed_redis: tuple[int, Any] | None = None  # (pid, client): one client per process


def _viewed_client() -> Any:
    """This process's Redis client for viewed marks, or None without ``REDIS_URL``."""
    global _viewed_redis
    url = get_settings().redis_url
    if not url:
        return None
    if _viewed_redis is None or _viewed_redis[0] != os.getpid():
        import redis

        _viewed_redis = (
            os.getpid(),
            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1),
        )
    return _viewed_redis[1]


def mark_viewed(esim_id: int, *, seconds: float | None = None) -> None:
    """Note that a traveler is looking at ``esim_id`` (call from page load and while the page
    stays open): the usage sync puts it first for ``seconds`` (default
    ``SYNC_VIEWED_SECONDS``). In memory, and with ``REDIS_URL`` also in Redis
    (:data:`VIEWED_KEY`) so the scheduler's worker sees what every worker's travelers view.
    Safe to call often; a Redis error is logged, never raised."""
    ttl = get_settings().sync_viewed_seconds if seconds is None else seconds
    now = time.monotonic()
    previous = _viewed.get(esim_id, 0.0)
    _viewed[esim_id] = max(previous, now + ttl)
    client = _viewed_client()
    # Open pages call this on every re-read: the shared mark is renewed only once half of
    # its lifetime has passed, not on each call (a blocking round trip on the event loop).
    if client is None or previous - now > ttl / 2:
        return
    import redis

    try:
        client.zadd(VIEWED_KEY, {str(esim_id): time.time() + ttl}, gt=True)
    except redis.RedisError as exc:
        log.warning("viewed mark not shared (Redis): %s", exc)


def viewed_esims() -> set[int]:
    """The eSIMs marked viewed whose mark has not expired (expired marks are dropped), in
    this process and, with ``REDIS_URL``, in every process sharing that Redis."""
    now = time.monotonic()
    for esim_id, until in list(_viewed.items()):
        if until <= now:
            _viewed.pop(esim_id, None)
    seen = set(_viewed)
    client = _viewed_client()
    if client is not None:
        import redis

        try:
            wall = time.time()
            client.zremrangebyscore(VIEWED_KEY, "-inf", wall)
            seen |= {int(m) for m in client.zrangebyscore(VIEWED_KEY, wall, "+inf")}
        except redis.RedisError as exc:
            log.warning("viewed marks of other workers unavailable (Redis): %s", exc)
    return seen


def clear_viewed() -> None:
    """Forget every viewed mark (tests)."""
    _viewed.clear()
    client = _viewed_client()
    if client is not None:
        client.delete(VIEWED_KEY)


# ============================================================================ usage sync
@dataclass(frozen=True)
class SyncCandidate:
    """An eSIM the usage sync should refresh.

    ``fresh_at``: last time its figures were refreshed (full sync, or with callbacks on also
    a platform event), ``None`` if never; ``urgent``: near empty or near expiry (and, with
    callbacks on, no event within the last interval); ``viewed``: marked viewed;
    ``since``: when its figures date from for the staleness figure (``fresh_at``, else the
    assignment time).
    """

    esim_id: int
    fresh_at: datetime | None
    urgent: bool = False
    viewed: bool = False
    since: datetime | None = None


def order_for_sync(candidates: Iterable[SyncCandidate]) -> list[int]:
    """eSIM ids in sync order: viewed, then urgent, then the rest; least recently refreshed
    first inside each group (never refreshed first), then by id."""
    return [
        c.esim_id
        for c in sorted(
            candidates,
            key=lambda c: (not c.viewed, not c.urgent, c.fresh_at or _MIN_TIME, c.esim_id),
        )
    ]


def _urgent(addons: list[EsimAddon], now: datetime, settings: Settings) -> bool:
    soon = now + timedelta(hours=settings.sync_near_expiry_hours)
    for a in addons:
        if effective_status(a, now) != "active":
            continue
        if a.expires_at is not None and a.expires_at <= soon:
            return True
        if a.initial_bytes and a.remaining_bytes is not None:
            used_pct = (a.initial_bytes - a.remaining_bytes) * 100.0 / a.initial_bytes
            if used_pct >= settings.sync_near_empty_percent:
                return True
    return False


async def sync_candidates(
    session: AsyncSession,
    *,
    now: datetime,
    settings: Settings,
    viewed: set[int] | None = None,
    callbacks_on: bool | None = None,
) -> list[SyncCandidate]:
    """The usage-sync candidates at ``now`` (module docstring), unordered."""
    on = settings.sft_callback_token is not None if callbacks_on is None else callbacks_on
    seen = viewed if viewed is not None else viewed_esims()
    esims = list(
        (
            await session.exec(
                select(Esim).where(col(Esim.state) == "assigned", col(Esim.user_id).is_not(None))
            )
        ).all()
    )
    ids = [e.id for e in esims if e.id is not None]
    if not ids:
        return []
    addons: dict[int, list[EsimAddon]] = {i: [] for i in ids}
    for a in (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(ids)))).all():
        addons[a.esim_id].append(a)
    syncs = {
        r.esim_id: r
        for r in (await session.exec(select(EsimSync).where(col(EsimSync.esim_id).in_(ids))))
    }
    events = await callbacks.last_event_times(session, ids) if on else {}
    recent = now - timedelta(seconds=settings.sync_interval_seconds)
    out: list[SyncCandidate] = []
    for e in esims:
        assert e.id is not None
        sync = syncs.get(e.id)
        synced_at = sync.synced_at if sync else None
        live_addons = [a for a in addons[e.id] if effective_status(a, now) in LIVE_STATUSES]
        if not live_addons and synced_at is not None:
            continue
        event_at = events.get(e.id)
        fresh = max((t for t in (synced_at, event_at) if t is not None), default=None)
        urgent = _urgent(live_addons, now, settings)
        if on and urgent and event_at is not None and event_at >= recent:
            urgent = False
        out.append(
            SyncCandidate(
                esim_id=e.id,
                fresh_at=fresh,
                urgent=urgent,
                viewed=e.id in seen,
                since=fresh or e.assigned_at,
            )
        )
    return out


def _oldest_age(candidates: list[SyncCandidate], now: datetime) -> int | None:
    ages = [int((now - c.since).total_seconds()) for c in candidates if c.since is not None]
    return max(ages) if ages else None


async def run_usage_sync(
    client: SFTClient,
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
    monotonic: Monotonic = time.monotonic,
    concurrency: int = usage.SYNC_CONCURRENCY,
    callbacks_on: bool | None = None,
) -> list[int]:
    """One usage-sync run (module docstring). Returns the eSIM ids synced, in the order they
    were started. ``stats.items`` = eSIMs synced, ``stats.errors`` = eSIMs that failed,
    ``stats.oldest_figure_age_seconds`` = staleness of the oldest candidate's figures at the
    end of the run (seconds, by ``clock``); ``stats.detail`` has ``candidates``,
    ``changed`` and ``skipped`` (not reached before the deadline)."""
    s_ = settings or get_settings()
    deadline = monotonic() + s_.sync_interval_seconds * s_.sync_fill_fraction
    async with session_factory() as s:
        cands = await sync_candidates(s, now=clock(), settings=s_, callbacks_on=callbacks_on)
    queue = deque(order_for_sync(cands))
    started: list[int] = []
    changed: list[int] = []

    async def worker() -> None:
        while queue and monotonic() < deadline:
            esim_id = queue.popleft()
            started.append(esim_id)
            result = await usage.sync_esims(
                client,
                [esim_id],
                priority=Priority.SYNC,
                session_factory=session_factory,
                clock=clock,
                concurrency=1,
            )
            outcome = result.outcomes[0]
            if outcome.ok:
                stats.items += 1
                if outcome.changed_rows:
                    changed.append(esim_id)
                    live.notify(esim_id)
            else:
                stats.errors += 1

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    if changed:
        await notifications.evaluate(
            session_factory=session_factory, settings=s_, clock=clock, esim_ids=changed
        )
    async with session_factory() as s:
        after = await sync_candidates(
            s, now=clock(), settings=s_, viewed=set(), callbacks_on=callbacks_on
        )
    stats.oldest_figure_age_seconds = _oldest_age(after, clock())
    stats.detail.update(candidates=len(cands), changed=len(changed), skipped=len(queue))
    return started


# ============================================================================ catalogue, stock
async def run_catalogue(
    client: SFTClient, stats: RunStats, *, session_factory: SessionFactory = db.session
) -> None:
    """Sync the add-on catalogue (``catalogue.sync_plans``, docs/sft-platform.md#queryrateplan)."""
    async with session_factory() as s:
        report = await catalogue.sync_plans(client, s)
    stats.items = len(report.created) + len(report.updated)
    stats.detail.update(
        created=len(report.created),
        updated=len(report.updated),
        missing=len(report.missing),
        skipped=len(report.skipped),
    )


async def _staff_recipients(s: AsyncSession, settings: Settings) -> list[tuple[str, int | None]]:
    if settings.staff_alert_email:
        return [(settings.staff_alert_email, None)]
    rows = (await s.exec(select(User).where(col(User.is_staff).is_(True)))).all()
    return [(u.email, u.id) for u in rows]


async def run_inventory(
    client: SFTClient,
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> int:
    """Mirror new free eSIMs (``inventory.refill_pool`` at ``Priority.SYNC``), count the free
    pool and raise/clear the low-stock staff alert (module docstring). Returns the free count
    (``stats.detail``: ``free``, ``inserted``, ``alert`` = ``raised``/``cleared``/``None``)."""
    s_ = settings or get_settings()
    async with session_factory() as s:
        inserted = await inventory.refill_pool(client, s, priority=Priority.SYNC)
        free = await inventory.free_count(s)
    stats.items = inserted
    alert: str | None = None
    async with session_factory() as s:
        existing = await s.get(StaffAlert, LOW_STOCK_ALERT)
        if free < s_.low_stock_threshold and existing is None:
            detail = f"{free} free eSIMs left (threshold {s_.low_stock_threshold})"
            s.add(StaffAlert(key=LOW_STOCK_ALERT, raised_at=clock(), detail=detail))
            recipients = await _staff_recipients(s, s_)
            for address, user_id in recipients:
                try:
                    await email.enqueue(
                        s,
                        to=address,
                        user_id=user_id,
                        subject=f"Low eSIM stock: {free} free eSIMs left",
                        text=(
                            f"The pool of free pre-active eSIMs is down to {free}, below the "
                            f"alert threshold of {s_.low_stock_threshold}. Create or link more "
                            "endpoints on SFT (pre-created, linked to an ICCID and left "
                            "Pre-Active) before sales stop.\n"
                        ),
                        kind="staff_low_stock",
                    )
                except ValueError as exc:
                    log.warning("low-stock alert not queued for a recipient: %s", exc)
            if not recipients:
                log.warning("low stock but no staff recipient (set STAFF_ALERT_EMAIL)")
            try:
                await s.commit()
                alert = "raised"
                log.warning("low eSIM stock", extra={"free": free})
            except IntegrityError:  # another worker raised it first
                await s.rollback()
        elif free >= s_.low_stock_threshold and existing is not None:
            await s.exec(delete(StaffAlert).where(col(StaffAlert.key) == LOW_STOCK_ALERT))
            await s.commit()
            alert = "cleared"
    stats.detail.update(free=free, inserted=inserted, alert=alert)
    return free


# ============================================================================ recovery
async def run_recovery(
    client: SFTClient,
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
    lease: timedelta = provisioning.DEFAULT_LEASE,
    run_order_options: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Release expired reservations, resume stuck orders and due automatic retries,
    escalate hopeless ones (module docstring). Returns ``{"resumed": [...], "escalated":
    [...]}`` order ids; ``stats.items`` = orders resumed, ``stats.errors`` = orders escalated
    or still failing. ``run_order_options`` are passed to ``provisioning.run_order`` (e.g.
    ``backoff``); ``clock`` is passed as its retry-schedule clock unless they name one."""
    s_ = settings or get_settings()
    now = clock()
    async with session_factory() as s:
        released = await inventory.release_expired(s, now)
        paid = col(Order.status) == "paid"
        rows = (
            await s.exec(
                select(Order)
                .where(
                    or_(
                        paid
                        & col(Order.next_attempt_at).is_(None)
                        & (
                            col(Order.updated_at)
                            <= now - timedelta(seconds=s_.recovery_paid_grace_seconds)
                        ),
                        paid & (col(Order.next_attempt_at) <= now),
                        (col(Order.status) == "provisioning")
                        & (col(Order.updated_at) <= now - lease),
                    )
                )
                .order_by(col(Order.created_at))
            )
        ).all()
        stuck = [(o.id, o.status, o.updated_at, o.attempts - o.retry_count) for o in rows]
    resumed: list[str] = []
    escalated: list[str] = []
    options: dict[str, Any] = {"clock": clock, **(run_order_options or {})}
    for order_id, status, updated_at, runs in stuck:
        if runs >= s_.recovery_max_attempts:
            if await _escalate(session_factory, order_id, status, updated_at, runs):
                escalated.append(order_id)
                stats.errors += 1
            continue
        try:
            order = await provisioning.run_order(
                order_id,
                client=client,
                session_factory=session_factory,
                lease=lease,
                **options,
            )
        except Exception:
            log.exception("recovery could not resume order %s", order_id)
            stats.errors += 1
            continue
        resumed.append(order_id)
        stats.items += 1
        if order.status != "delivered":
            stats.errors += 1
    stats.detail.update(released=released, resumed=resumed, escalated=escalated)
    return {"resumed": resumed, "escalated": escalated}


async def _escalate(
    factory: SessionFactory, order_id: str, status: str, updated_at: datetime, attempts: int
) -> bool:
    """Claim the stuck order (compare-and-set on its status and heartbeat, so no run can
    take it meanwhile) and give up on it as provisioning does (``needs_attention``, payment
    voided or flagged)."""
    async with factory() as s:
        claimed: Any = await s.execute(
            update(Order)
            .where(
                col(Order.id) == order_id,
                col(Order.status) == status,
                col(Order.updated_at) == updated_at,
            )
            .values(status="provisioning", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await s.commit()
        if claimed.rowcount != 1:
            return False
        await provisioning.give_up_order(
            s,
            order_id,
            step_name="recovery",
            error=f"gave up after {attempts} provisioning runs",
        )
    return True


# ============================================================================ small jobs
async def run_notifications(
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> None:
    """Create due traveler notices and queue their emails (``notifications.evaluate``)."""
    report = await notifications.evaluate(
        session_factory=session_factory, settings=settings, clock=clock
    )
    stats.items = report.created
    stats.detail.update(created=report.created, emailed=report.emailed, conflicts=report.conflicts)


async def run_email(stats: RunStats, *, settings: Settings | None = None) -> None:
    """Deliver due outbox emails (``email.send_pending``; nothing without ``SMTP_HOST``)."""
    stats.items = await email.send_pending(settings or get_settings(), limit=50)


async def run_callback_sweep(
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> callbacks.ProcessReport:
    """Apply platform events left ``pending`` (``callbacks.process_pending``), wake their
    pages and evaluate their notifications."""
    report = await callbacks.process_pending(
        session_factory=session_factory, clock=clock, on_applied=live.notify
    )
    if report.esim_ids:
        await notifications.evaluate(
            session_factory=session_factory,
            settings=settings,
            clock=clock,
            esim_ids=sorted(report.esim_ids),
        )
    stats.items = report.applied
    stats.errors = report.failed
    stats.detail.update(
        applied=report.applied,
        superseded=report.superseded,
        ignored=report.ignored,
        failed=report.failed,
    )
    return report
