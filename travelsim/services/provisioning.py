"""Provisioning of a paid order: claim it, run its steps, and schedule a retry or give up.

The purchase flow (docs/business-rules.md#provisioning-steps,
docs/architecture.md#one-purchase-click-to-qr): one ``ProvisioningStep`` row per step, created with
the order (``order_creation.NEW_ESIM_STEPS`` / ``TOPUP_STEPS``). :func:`run_order` claims the
order (compare-and-set to ``provisioning``; a lease renewed by the step commits, at most every
tenth of it, so a crashed run is taken over after :data:`DEFAULT_LEASE`), then runs its steps
not ``done`` yet, in order, with the step runner (:mod:`travelsim.services.provisioning_runner`:
commits per attempt, in-run retries); what each step does against SFT is
:mod:`travelsim.services.provisioning_steps`.

When a step's last attempt failed on a transient fault, the order goes back to ``paid`` with
its next automatic retry recorded on the row (:mod:`travelsim.services.provisioning_retry`, the
rules; the recovery job runs it when due); a definite refusal, or a transient fault at the end
of the retry window, gives up: ``needs_attention`` with ``last_error``, and the payment's hold
released (``payment_holds.void_payment``: ``flagged`` if that fails) — never silently lost
(docs/business-rules.md#provisioning-retries). The deliver step captures the hold in the
transaction that marks the order delivered (``payment_holds.capture_with_delivery``): the
traveler pays only for a delivered eSIM; :func:`capture_order_payment` captures a delivered
order's hold that is still held (Stripe was unreachable then, or the order had no deliver step).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, logs
from travelsim.db import SessionFactory
from travelsim.models import Esim, Order, OrderStatus, Payment, PaymentStatus, StepStatus, utcnow
from travelsim.services import order_hooks, saved_cards
from travelsim.services.payment_holds import (
    DeliveryCapture,
    capture_with_delivery,
    void_payment,
)
from travelsim.services.payments import PaymentProvider, get_provider
from travelsim.services.provisioning_retry import next_retry_at
from travelsim.services.provisioning_runner import (
    Attempts,
    Failure,
    ProgressCallback,
    Run,
    load_steps,
    mark_running,
    progress,
    reread,
    run_steps,
)
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "capture_order_payment",
    "give_up_order",
    "run_order",
]

log = logging.getLogger(__name__)


DEFAULT_MAX_ATTEMPTS = 3
#: Seconds to wait before the 2nd, 3rd, ... attempt of a step (the last value repeats). The
#: pause also lets a platform that is still processing a timed-out POST finish before the
#: re-read (docs/sft-platform.md#timeouts-and-retries).
DEFAULT_BACKOFF: tuple[float, ...] = (2.0, 8.0)
#: A run holds an order for this long after its last heartbeat (each step commit); another run
#: may take over an order left ``provisioning`` longer than that (crashed process).
DEFAULT_LEASE = timedelta(minutes=10)
#: Heartbeats per lease: a step's commit renews the lease once a tenth of it has passed since
#: the last renewal (a run that stops beating is taken over a whole lease later).
LEASE_BEATS = 10

#: Orders whose provisioning is over: a run returns them unchanged.
_FINISHED = (OrderStatus.DELIVERED, OrderStatus.NEEDS_ATTENTION)


@logs.with_order_id
async def run_order(
    order_id: str,
    *,
    client: SFTClient,
    session_factory: SessionFactory = db.session,
    on_progress: ProgressCallback | None = None,
    provider: PaymentProvider | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    lease: timedelta = DEFAULT_LEASE,
    public_url: str | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], datetime] = utcnow,
    retry_window: timedelta | None = None,
    force: bool = False,
) -> Order:
    """Run (or resume) the provisioning steps of ``order_id`` until ``delivered``,
    ``needs_attention``, or ``paid`` with an automatic retry scheduled (module docstring);
    returns the order as left in the database.

    Args:
        client: the SFT client (every call at ``Priority.PROVISIONING``).
        session_factory: async context manager yielding a session (``db.session``).
        on_progress: ``async (step_name, status)`` for live progress. ``step_name`` is a step
            (``activate``, ``subscribe``, ``fetch_code``, ``deliver``) with status
            ``running``, ``done``, ``retrying`` (attempt failed, will retry) or ``failed``; or
            ``"order"`` with ``provisioning``, ``delivered``, ``retry_scheduled`` or
            ``needs_attention``. Exceptions it raises are logged and ignored.
        provider: payment provider used to void the payment on failure (default: the one
            named in ``Payment.provider``).
        max_attempts: attempts per step in this run (>= 1).
        backoff: seconds before each retry (the last value repeats).
        lease: an order already ``provisioning`` is taken over only when its last heartbeat
            is older than this (a crashed run); otherwise this call returns at once.
        public_url: base URL for the email link (default ``settings.public_url``).
        clock: UTC "now" of the automatic-retry schedule (due check, ``first_failed_at``,
            ``next_attempt_at``, end of the window).
        retry_window: how long after the first transient failure retries go on (default
            ``PROVISIONING_RETRY_HOURS``).
        force: run even though the order's automatic retry is not due yet (staff "Retry
            provisioning"); otherwise such an order is returned unchanged without any call.

    Idempotent: a ``delivered`` or ``needs_attention`` order is returned unchanged without any
    SFT call; ``done`` steps are skipped. Raises ``LookupError`` for an unknown order id.
    Database errors propagate (the steps stay resumable).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    settings = get_settings()
    attempts = Attempts(
        max_attempts=max_attempts,
        backoff=backoff,
        public_url=public_url if public_url is not None else settings.public_url,
        sleep=sleep,
        on_progress=on_progress,
    )
    window = (
        retry_window
        if retry_window is not None
        else timedelta(hours=settings.provisioning_retry_hours)
    )
    async with session_factory() as session:
        order = await reread(session, Order, order_id)
        if order is None:
            raise LookupError(f"unknown order {order_id}")
        due_at = None if force else clock()
        if _nothing_to_do(order, due_at):
            return order
        run = await _claim(session, client, order, lease, due_at=due_at)
        if run is None:
            log.info("provisioning already running elsewhere", extra={"order_id": order_id})
            return await _order_now(session, order_id)
        await progress(on_progress, "order", "provisioning")
        run.capture.provider = provider
        failed = await run_steps(run, attempts)
        if failed is not None:
            name, failure = failed
            return await _after_failure(
                session, order_id, name, failure, clock(), window, provider, on_progress
            )
        return await _delivered(session, run.order, provider, on_progress, run.capture)


def _nothing_to_do(order: Order, due_at: datetime | None) -> bool:
    """True when the order is over, or (``due_at`` given) its automatic retry is due only
    after ``due_at``."""
    if order.status in _FINISHED:
        return True
    if due_at is not None and order.next_attempt_at is not None:
        if order.next_attempt_at > due_at:
            log.info("automatic retry not due yet", extra={"order_id": order.id})
            return True
    return False


async def _order_now(session: AsyncSession, order_id: str) -> Order:
    order = await reread(session, Order, order_id)
    assert order is not None
    return order


async def _after_failure(
    session: AsyncSession,
    order_id: str,
    name: str,
    failure: Failure,
    now: datetime,
    window: timedelta,
    provider: PaymentProvider | None,
    on_progress: ProgressCallback | None,
) -> Order:
    """Step ``name`` failed for good in this run: schedule the automatic retry of a transient
    failure while the window lasts, else give up (``needs_attention``, payment voided)."""
    if not failure.transient:
        return await _give_up(session, order_id, name, failure.error, provider, on_progress)
    when = await _schedule_retry(session, order_id, name, failure.error, now, window, on_progress)
    if when is not None:
        return await _order_now(session, order_id)
    hours = f"{window.total_seconds() / 3600:g}"
    message = f"{failure.error} (still failing after {hours} h of automatic retries)"
    return await _give_up(session, order_id, name, message, provider, on_progress)


async def _delivered(
    session: AsyncSession,
    order: Order,
    provider: PaymentProvider | None,
    on_progress: ProgressCallback | None,
    capture: DeliveryCapture,
) -> Order:
    """Every step is done: the order is ``delivered`` (the deliver step normally says so) and
    its payment's hold captured: by this run's deliver step (``capture``; then the unkept
    card is removed from the Customer), else now (:func:`capture_order_payment`)."""
    if order.status != OrderStatus.DELIVERED:  # e.g. an order without a deliver step
        order.status = OrderStatus.DELIVERED
        order.delivered_at = order.delivered_at or utcnow()
        order.next_attempt_at = None
        session.add(order)
        await session.commit()
    await progress(on_progress, "order", "delivered")
    log.info("order delivered", extra={"order_id": order.id})
    if capture.payment is None:  # the deliver step did not run in this run (or found none)
        await capture_order_payment(session, order.id, provider, delivered=order)
    else:
        await _after_capture(session, order.id, provider, capture)
    return order


async def capture_order_payment(
    session: AsyncSession,
    order_id: str,
    provider: PaymentProvider | None = None,
    *,
    delivered: Order | None = None,
) -> bool:
    """Capture the held payment of the delivered order ``order_id``: the traveler is charged
    now that the eSIM is delivered (docs/payments.md#charged-only-for-a-delivered-esim);
    commits. A failed capture flags the payment for staff; Stripe unreachable leaves it
    ``authorized`` for the recovery job. The card is then removed from the traveler's
    Stripe Customer unless they kept it. True when this call captured.

    ``delivered``: the order as this run just committed it ``delivered``, not read again
    (a delivered order stays delivered; the payment is always re-read)."""
    order = delivered if delivered is not None else await reread(session, Order, order_id)
    if order is None or order.status != OrderStatus.DELIVERED:
        return False
    capture = DeliveryCapture(provider)
    await capture_with_delivery(session, order.payment_id, capture)
    if not capture.held:
        return False
    await session.commit()
    await _after_capture(session, order_id, provider, capture)
    return capture.captured


async def _after_capture(
    session: AsyncSession,
    order_id: str,
    provider: PaymentProvider | None,
    capture: DeliveryCapture,
) -> None:
    """Once a capture is committed: log it, and remove the card from the traveler's Stripe
    Customer when the hold is settled (unless they kept the card)."""
    if capture.captured:
        log.info("payment captured", extra={"order_id": order_id})
    if capture.settled and capture.payment is not None:
        prov = provider or get_provider(capture.payment.provider)
        await saved_cards.release_unkept_card(session, prov, capture.payment, capture.owner)


async def _claim(
    session: AsyncSession,
    client: SFTClient,
    order: Order,
    lease: timedelta,
    *,
    due_at: datetime | None = None,
) -> Run | None:
    """Compare-and-set the order to ``provisioning`` for this run (heartbeat = updated_at)
    and, in the same transaction, mark its first step not yet done ``running``; commits.
    With ``due_at``, a ``paid`` order whose automatic retry is due later is not taken. The
    claim clears ``next_attempt_at`` (the retry is now running). Returns the loaded run, or
    ``None`` (nothing changed) when another run holds the lease or the retry is not due."""
    now = utcnow()
    paid = col(Order.status) == OrderStatus.PAID
    if due_at is not None:
        paid = paid & or_(
            col(Order.next_attempt_at).is_(None), col(Order.next_attempt_at) <= due_at
        )
    result: Any = await session.execute(
        update(Order)
        .where(
            col(Order.id) == order.id,
            or_(
                paid,
                (col(Order.status) == OrderStatus.PROVISIONING)
                & (col(Order.updated_at) <= now - lease),
            ),
        )
        .values(
            status=OrderStatus.PROVISIONING,
            attempts=col(Order.attempts) + 1,
            updated_at=now,
            next_attempt_at=None,
        )
        .returning(col(Order.attempts))
        .execution_options(synchronize_session=False)
    )
    attempts = result.scalar_one_or_none()
    if attempts is None:
        await session.rollback()
        return None
    # The UPDATE bypassed the ORM: record its values on the loaded row as committed state.
    set_committed_value(order, "status", OrderStatus.PROVISIONING)
    set_committed_value(order, "attempts", attempts)
    set_committed_value(order, "updated_at", now)
    set_committed_value(order, "next_attempt_at", None)
    esim = await reread(session, Esim, order.esim_id)
    assert esim is not None
    steps = await load_steps(session, order.id)
    run = Run(session, client, order.id, order, esim, steps, beat_every=lease / LEASE_BEATS)
    first = next((s for s in run.steps.values() if s.status != StepStatus.DONE), None)
    if first is not None:
        mark_running(session, first, order, heartbeat=False)  # the claim set updated_at
    await session.commit()
    return run


async def _schedule_retry(
    session: AsyncSession,
    order_id: str,
    step_name: str,
    error: str,
    now: datetime,
    window: timedelta,
    on_progress: ProgressCallback | None,
) -> datetime | None:
    """Put the order back to ``paid`` with its next automatic retry (:func:`next_retry_at`)
    recorded on the row; commits and returns when it is due (UTC). Returns ``None`` without
    changing anything when the retry window is over (the caller gives up)."""
    order = await reread(session, Order, order_id)
    assert order is not None
    first = order.first_failed_at or now
    when = next_retry_at(
        first_failed_at=first, now=now, retry_number=order.retry_count + 1, window=window
    )
    if when is None:
        return None
    order.status = OrderStatus.PAID
    order.retry_count += 1
    order.first_failed_at = first
    order.next_attempt_at = when
    order.last_error = f"{step_name}: {error}"[:500]
    order.updated_at = utcnow()
    session.add(order)
    await session.commit()
    log.warning(
        "transient provisioning failure; automatic retry scheduled",
        extra={"order_id": order_id, "step": step_name, "retry": order.retry_count},
    )
    await progress(on_progress, "order", "retry_scheduled")
    return when


async def _give_up(
    session: AsyncSession,
    order_id: str,
    step_name: str,
    error: str,
    provider: PaymentProvider | None,
    on_progress: ProgressCallback | None,
) -> Order:
    """Mark the order ``needs_attention`` and void its payment (``flagged`` if that fails)."""
    order = await reread(session, Order, order_id)
    payment = await reread(session, Payment, order.payment_id)
    assert order is not None and payment is not None
    order.status = OrderStatus.NEEDS_ATTENTION
    order.last_error = f"{step_name}: {error}"[:500]
    order.next_attempt_at = None
    order.updated_at = utcnow()
    if payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED):
        await void_payment(payment, provider)
    session.add_all([order, payment])
    await session.commit()
    log.error(
        "order needs attention",
        extra={"order_id": order_id, "step": step_name, "payment_status": payment.status},
    )
    await progress(on_progress, "order", "needs_attention")
    await order_hooks.given_up(order_id)  # e.g. the automatic top-up that bought it
    return order


async def give_up_order(
    session: AsyncSession,
    order_id: str,
    *,
    step_name: str,
    error: str,
    provider: PaymentProvider | None = None,
) -> Order:
    """Escalate ``order_id`` to ``needs_attention`` with ``error`` recorded against
    ``step_name`` and its payment voided (``flagged`` if voiding fails); commits. For
    callers outside a provisioning run (recovery after too many runs)."""
    return await _give_up(session, order_id, step_name, error, provider, None)
