"""The background jobs themselves, run by ``travelsim.scheduler``. No Reflex, no APScheduler.

Each job is a plain ``async`` function taking the SFT client (when it needs one), a
:class:`~travelsim.services.jobs.metering.RunStats` to fill, and injectable settings /
session factory / clocks, so tests drive them directly against the simulator. The scheduler
wraps each run in :func:`~travelsim.services.jobs.metering.record_run`.

Usage sync (:func:`run_usage_sync`)
===================================
The candidates and their order: :mod:`travelsim.services.jobs.sync_plan`. A run syncs
candidates one by one with ``usage_sync.SYNC_CONCURRENCY`` workers at ``Priority.SYNC`` until the
list is done or ``SYNC_FILL_FRACTION * SYNC_INTERVAL_SECONDS`` have passed (no new eSIM is
started after that). The shared rate budget serves provisioning and traveler refreshes first,
so the sync gets exactly what they leave; its workers keep a request always waiting, so that
remainder is used fully. The budget spaces requests at the account's TPS, so the platform
never answers 429 while the budget is at (or under) the account's limit and shared by every
caller (one process, or a shared ``RateBudget``; with the scheduler in its own process, give
each process its share of ``SFT_RATE_LIMIT_TPS``). Pages watching an eSIM whose figures
changed are woken (``live.notify``) and its notifications are evaluated at once.

The other jobs
==============
* :func:`run_catalogue`: ``catalogue.sync_plans``.
* :func:`run_inventory`: ``inventory.refill_pool`` (``Priority.SYNC``) then the free count;
  below ``LOW_STOCK_THRESHOLD`` staff are emailed once per crossing
  (:class:`~travelsim.models.StaffAlert` row inserted with the email; deleted when stock is
  back at or above the threshold).
* :func:`run_recovery`: expires open checkouts older than ``CHECKOUT_TTL_MINUTES``
  (``checkout_guard.expire_stale``, their eSIMs back to the pool) and releases expired
  checkout reservations (``inventory.release_expired``);
  resumes orders left mid-way (``paid`` and untouched for ``RECOVERY_PAID_GRACE_SECONDS``,
  ``paid`` with an automatic retry due, ``Order.next_attempt_at`` at or before now, or
  ``provisioning`` with an expired lease, ``provisioning.DEFAULT_LEASE``) with
  ``provisioning.run_order``, whose compare-and-set claim makes each resumption happen exactly
  once across processes. Automatic retries after transient faults are bounded by their
  window (``PROVISIONING_RETRY_HOURS``, enforced by provisioning); runs that ended otherwise
  (a crashed process, ``Order.attempts - Order.retry_count``) are bounded by
  ``RECOVERY_MAX_ATTEMPTS``: past it the order is escalated to ``needs_attention`` instead
  (payment voided, or flagged, as provisioning does;
  docs/business-rules.md#provisioning-retries, docs/business-rules.md#when-an-order-goes-to-staff);
  then reads at Stripe the payments nobody came back for and captures the holds of delivered
  orders (``payment_recovery.recover_payments``, ``stats.detail["payments"]``).
* :func:`run_notifications`: ``notifications.evaluate``.
* :func:`run_email`: ``email.send_pending``.
* :func:`run_callback_sweep`: ``callbacks.apply_pending`` for events left pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import Order, OrderStatus, StaffAlert, User, utcnow
from travelsim.services import (
    auto_topup_fire,
    callbacks,
    catalogue,
    checkout_guard,
    email,
    figures_hooks,
    inventory,
    live,
    notifications,
    payment_recovery,
    provisioning,
    usage_sync,
)
from travelsim.services.jobs.metering import Clock, RunStats
from travelsim.services.jobs.sync_plan import oldest_figure_age, order_for_sync, sync_candidates
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.models import Priority

#: The scheduler's usage sync and callback sweep fire automatic top-ups
#: (docs/business-rules.md#automatic-top-up).
figures_hooks.register(auto_topup_fire.on_figures)

__all__ = [
    "LOW_STOCK_ALERT",
    "run_callback_sweep",
    "run_catalogue",
    "run_email",
    "run_inventory",
    "run_notifications",
    "run_recovery",
    "run_usage_sync",
]

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]

#: ``StaffAlert.key`` of the low-stock alert.
LOW_STOCK_ALERT = "low_stock"


# ============================================================================ usage sync
async def run_usage_sync(
    client: SFTClient,
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
    monotonic: Monotonic = time.monotonic,
    concurrency: int = usage_sync.SYNC_CONCURRENCY,
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
            result = await usage_sync.sync_esims(
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
    stats.oldest_figure_age_seconds = oldest_figure_age(after, clock())
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
        skipped_plans=report.skipped_summary(),
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
    """Expire stale checkouts, release expired reservations, resume stuck orders and due
    automatic retries, escalate hopeless ones (module docstring). Returns
    ``{"resumed": [...], "escalated": [...]}`` order ids; ``stats.items`` = orders resumed,
    ``stats.errors`` = orders escalated or still failing. ``run_order_options`` are passed
    to ``provisioning.run_order`` (e.g. ``backoff``); ``clock`` is passed as its
    retry-schedule clock unless they name one. ``stats.detail["expired"]``: checkouts
    expired by ``CHECKOUT_TTL_MINUTES``."""
    s_ = settings or get_settings()
    now = clock()
    async with session_factory() as s:
        expired = await checkout_guard.expire_stale(s, now)
        await s.commit()
        released = await inventory.release_expired(s, now)
        paid = col(Order.status) == OrderStatus.PAID
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
                        (col(Order.status) == OrderStatus.PROVISIONING)
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
        if order.status != OrderStatus.DELIVERED:
            stats.errors += 1
    money = await payment_recovery.recover_payments(session_factory=session_factory, now=now)
    stats.detail.update(
        expired=expired,
        released=released,
        resumed=resumed,
        escalated=escalated,
        payments=money,
    )
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
            .values(status=OrderStatus.PROVISIONING, updated_at=utcnow())
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
    """Apply platform events left ``pending``, wake their pages and evaluate their
    notifications (``callbacks.apply_pending``)."""
    report = await callbacks.apply_pending(
        session_factory=session_factory, settings=settings, clock=clock
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
