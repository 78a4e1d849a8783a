"""Paying a checkout: charge once, confirm a second step, record the charge; a succeeded charge
creates the order and starts its provisioning.

1. :func:`pay` re-checks ownership and the device confirmation, keeps (or re-takes) the
   reservation for the payment window (``checkout_reservation.hold_esim``), inserts a
   ``Payment`` row in status ``processing`` under a unique idempotency key (the checkout id;
   ``<checkout id>:<n>`` for the n-th attempt after declines), then charges. Two concurrent
   calls compute the same key: the unique constraint lets one through and the other returns
   the first one's state. A succeeded charge creates, in ONE transaction, the order, its steps,
   the eSIM assignment and the checkout's ``paid`` status (``order_creation.create_order``);
   normally the payment's ``succeeded`` is part of that transaction too (if the order cannot be
   written, the payment is recorded alone first, then the order is retried or the charge
   voided: ``order_creation.finalize``).
2. ``requires_action`` → the UI asks for the code and calls :func:`confirm_payment`; its
   success creates the order and starts provisioning the same way.
3. Declined → the checkout stays ``open`` with a clear message; the reservation runs on until
   it expires.

Once the commit that created an order is done, its provisioning is started in the background
(``order_creation.order_created``: ``start_provisioning``, default
``platform.ensure_provisioning``, idempotent in a process;
docs/architecture.md#one-purchase-click-to-qr). Pages only watch it. An order left ``paid``
(a process that stopped before or during its run, another worker) is resumed by the recovery
job (``jobs.runs.run_recovery``).

Payment statuses used here (``PaymentStatus``): ``processing`` (row claimed, provider answer
pending), ``requires_action``, ``succeeded``, ``declined``, ``voided``, ``flagged``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Checkout, CheckoutStatus, Payment, PaymentStatus, User, utcnow
from travelsim.services import inventory, platform
from travelsim.services.checkout import (
    CheckoutError,
    order_for_checkout,
    owned_checkout,
    payments_for,
    user_id_of,
)
from travelsim.services.checkout_guard import expire_if_stale, recheck_for_charge
from travelsim.services.checkout_outcome import (
    PayOutcome,
    current_outcome,
    paid_outcome,
    replayed_order,
    unpaid_outcome,
)
from travelsim.services.checkout_reservation import close_sold_out, hold_esim, hold_time
from travelsim.services.order_creation import (
    StartProvisioning,
    create_order,
    finalize,
    order_created,
)
from travelsim.services.payments import (
    Card,
    ChargeResult,
    PaymentProvider,
    PaymentProviderError,
    void_payment,
)

__all__ = ["STALE_PROCESSING", "confirm_payment", "pay"]

log = logging.getLogger(__name__)

#: A ``processing`` payment untouched this long is treated as abandoned (crash) and re-sent
#: with the SAME idempotency key, which a provider answers without charging again.
STALE_PROCESSING = timedelta(minutes=2)


# --- pay -------------------------------------------------------------------------------------
async def pay(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    card: Card,
    device_confirmed: bool,
    payment_window_minutes: int | None = None,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> PayOutcome:
    """Charge the checkout once; on success create the order (one transaction); commits.

    Args:
        provider: the card processor (``payments.DemoCardProvider`` in the demo).
        checkout_id, user: the checkout and the signed-in traveler (ownership is checked).
        card: passed to the provider only; never stored or logged (``Payment.card_last4``
            keeps the last four digits; ``Card``'s repr shows nothing more).
        device_confirmed: the traveler ticked "my destination is right and my phone supports
            eSIM and is carrier-unlocked" (here, or already at ``checkout.start_checkout``).
        payment_window_minutes: how long the reservation is extended while paying (default
            ``CHECKOUT_RESERVATION_MINUTES``).
        start_provisioning: called with the order id once the order is committed (module
            docstring); ``None`` starts nothing (callers that run ``provisioning.run_order``
            themselves).

    Returns a :class:`PayOutcome`. Idempotent per checkout: once paid, every further call
    returns the same order (``replayed=True``) without charging; while a second step is
    pending it returns ``requires_action`` again; while another call is charging it returns
    ``processing``.

    Before a new charge is created the checkout is re-checked
    (``checkout_guard.recheck_for_charge``, docs/business-rules.md#charge-re-checks): an
    abandoned ``processing`` payment is re-sent under its own key without it (that charge was
    created before).

    Raises CheckoutError: ``not_found`` (unknown or another user's checkout),
    ``confirm_device``, ``expired`` (older than ``CHECKOUT_TTL_MINUTES``; its eSIM is
    released), ``checkout_closed`` (cancelled), ``unknown_plan`` (off sale),
    ``bad_destination``, ``price_changed`` (nothing charged; ``checkout.reconfirm_price``
    then pay again), a top-up refusal (e.g. ``suspended_by_staff``), ``sold_out`` (the
    reservation lapsed and no eSIM is left; nothing charged), ``payment_error`` (the provider
    failed; the payment is re-sent with the same key on the next call).
    """
    uid = user_id_of(user)
    checkout = await owned_checkout(session, checkout_id, uid)
    order = await order_for_checkout(session, checkout.id)
    payments = await payments_for(session, checkout.id)
    if order is not None:
        return replayed_order(checkout.id, order, payments)
    _check_payable(checkout, device_confirmed)
    now = utcnow()
    outcome, resend = await _earlier_attempt(
        session, provider, checkout.id, payments, uid, now, start_provisioning
    )
    if outcome is not None:
        return outcome
    if resend is None:  # a new charge is created below: re-check the checkout now
        if await expire_if_stale(session, checkout, now):
            await session.commit()
            raise CheckoutError("expired")
        await recheck_for_charge(session, checkout, now)
    if not await hold_esim(session, checkout, now + hold_time(payment_window_minutes)):
        await close_sold_out(session, checkout)
        raise CheckoutError("sold_out")
    if resend is not None:
        payment = resend
        await session.commit()
    else:
        claimed = await _claim_payment(session, provider, checkout, len(payments), now)
        if claimed is None:  # another request for this checkout claimed the same key first
            return await current_outcome(session, checkout_id, uid)
        payment = claimed
    result = await _charge(session, provider, checkout.id, payment, card)
    return await _apply_charge(
        session, provider, checkout.id, payment, result, uid, start_provisioning
    )


def _check_payable(checkout: Checkout, device_confirmed: bool) -> None:
    """Raise CheckoutError ``confirm_device``, ``sold_out``, ``expired`` or
    ``checkout_closed`` when this checkout may not be charged."""
    if not (device_confirmed or checkout.device_confirmed):
        raise CheckoutError("confirm_device")
    if checkout.status == CheckoutStatus.SOLD_OUT:
        raise CheckoutError("sold_out")
    if checkout.status == CheckoutStatus.EXPIRED:
        raise CheckoutError("expired")
    if checkout.status != CheckoutStatus.OPEN:
        raise CheckoutError("checkout_closed")


async def _earlier_attempt(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payments: list[Payment],
    user_id: int,
    now: datetime,
    start_provisioning: StartProvisioning | None,
) -> tuple[PayOutcome | None, Payment | None]:
    """What the checkout's earlier payments decide, oldest first: an outcome to return as it
    is (charged but no order yet → the order; a second step pending; another request still
    charging), else ``(None, payment)`` with an abandoned ``processing`` payment to re-send
    under its own key, or ``(None, None)``: charge a new payment."""
    resend: Payment | None = None
    for p in payments:
        if p.status == PaymentStatus.SUCCEEDED and p.id is not None:  # order never written
            return await finalize(
                session, provider, checkout_id, p.id, user_id, start_provisioning
            ), None
        if p.status == PaymentStatus.REQUIRES_ACTION:
            return unpaid_outcome(checkout_id, p, replayed=True), None
        if p.status == PaymentStatus.PROCESSING:
            stale = p.failure_reason == "provider_error" or p.updated_at < now - STALE_PROCESSING
            if not stale:
                return unpaid_outcome(checkout_id, p, replayed=True), None
            resend = p
    return None, resend


async def _claim_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout: Checkout,
    earlier: int,
    now: datetime,
) -> Payment | None:
    """Insert the checkout's next payment (``processing``; key = the checkout id, or
    ``<id>:<n>`` after ``earlier`` payments) and commit. ``None`` (rolled back) when a
    concurrent request inserted the same key first."""
    payment = Payment(
        checkout_id=checkout.id,
        idempotency_key=checkout.id if not earlier else f"{checkout.id}:{earlier + 1}",
        provider=provider.name,
        amount_minor=checkout.amount_minor,
        currency=checkout.currency,
        status=PaymentStatus.PROCESSING,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    checkout.device_confirmed = True
    checkout.updated_at = now
    session.add(checkout)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return payment


async def _charge(
    session: AsyncSession, provider: PaymentProvider, checkout_id: str, payment: Payment, card: Card
) -> ChargeResult:
    """Charge ``card`` under the payment's idempotency key. A provider failure (outcome
    unknown) is recorded on the payment (re-sent with the same key next time) and raises
    CheckoutError ``payment_error``."""
    try:
        return await provider.charge(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            card_number=card.digits,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            cvc=card.cvc,
            idempotency_key=payment.idempotency_key,
        )
    except PaymentProviderError as exc:
        payment.failure_reason = "provider_error"
        payment.updated_at = utcnow()
        session.add(payment)
        await session.commit()
        log.warning("payment provider error", extra={"checkout_id": checkout_id, "code": exc.code})
        raise CheckoutError("payment_error") from None


async def _apply_charge(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payment: Payment,
    result: ChargeResult,
    user_id: int,
    start_provisioning: StartProvisioning | None,
) -> PayOutcome:
    payment_id = payment.id
    assert payment_id is not None
    log.info(
        "payment charged",
        extra={"checkout_id": checkout_id, "status": result.status, "code": result.failure_code},
    )
    if result.status == PaymentStatus.SUCCEEDED:
        # Usually the succeeded payment and its order are ONE commit. A crash before it
        # leaves the payment ``processing``, exactly as a crash right after the charge
        # would: it is re-sent with the same idempotency key, never charged twice.
        # Row locks in the order pay()'s first transaction takes them (eSIM, checkout, then
        # payment): the payment row is updated last, so a concurrent pay() of the same
        # checkout cannot deadlock with this one (PostgreSQL).
        try:
            order = await create_order(session, checkout_id, payment_id, user_id)
            _record_charge(payment, result)
            session.add(payment)
            await session.commit()
        except (IntegrityError, inventory.InventoryError):
            # A concurrent order, or no eSIM left: record the charge on its own first, then
            # take the general path (which returns the existing order or refunds).
            await session.rollback()
            fresh = await session.get(Payment, payment_id, populate_existing=True)
            assert fresh is not None
            _record_charge(fresh, result)
            session.add(fresh)
            await session.commit()
            return await finalize(
                session, provider, checkout_id, payment_id, user_id, start_provisioning
            )
        order_created(order, checkout_id, start_provisioning)
        return paid_outcome(checkout_id, order, payment, replayed=False)
    _record_charge(payment, result)
    session.add(payment)
    await session.commit()
    return unpaid_outcome(checkout_id, payment, replayed=False)


def _record_charge(payment: Payment, result: ChargeResult) -> None:
    """Copy the provider's answer onto ``payment`` (the caller adds and commits)."""
    payment.card_last4 = result.card_last4
    payment.provider_ref = result.provider_ref
    payment.updated_at = utcnow()
    if result.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REQUIRES_ACTION):
        payment.status = PaymentStatus(result.status)
        payment.failure_reason = None
    else:
        payment.status = PaymentStatus.DECLINED
        payment.failure_reason = result.failure_code


# --- the second step -------------------------------------------------------------------------
async def confirm_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    code: str,
    payment_window_minutes: int | None = None,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> PayOutcome:
    """Complete a ``requires_action`` payment with the traveler's verification ``code``;
    commits. Success creates the order and starts its provisioning exactly as :func:`pay`
    does; a wrong code declines the payment (``authentication_failed``) and leaves the
    checkout open for another attempt. Calling it again after success returns the same order
    (``replayed=True``).

    If the reservation lapsed and no eSIM is left, the pending charge is voided and
    CheckoutError ``sold_out`` is raised. Raises CheckoutError ``not_found``,
    ``no_pending_payment``, ``payment_error``.
    """
    uid = user_id_of(user)
    checkout = await owned_checkout(session, checkout_id, uid)
    order = await order_for_checkout(session, checkout.id)
    payments = await payments_for(session, checkout.id)
    if order is not None:
        return replayed_order(checkout.id, order, payments)
    pending = next(
        (p for p in reversed(payments) if p.status == PaymentStatus.REQUIRES_ACTION), None
    )
    if pending is None:
        busy = next(
            (
                p
                for p in payments
                if p.status in (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED)
            ),
            None,
        )
        if busy is not None:
            return await current_outcome(session, checkout_id, uid)
        raise CheckoutError("no_pending_payment")
    assert pending.id is not None and pending.provider_ref is not None
    payment_id, provider_ref = pending.id, pending.provider_ref

    if not await hold_esim(session, checkout, utcnow() + hold_time(payment_window_minutes)):
        await void_payment(pending, provider)
        session.add(pending)
        await close_sold_out(session, checkout)
        raise CheckoutError("sold_out")
    # Claim the pending step so that a double submit confirms only once.
    claimed: Any = await session.execute(
        update(Payment)
        .where(col(Payment.id) == payment_id, col(Payment.status) == PaymentStatus.REQUIRES_ACTION)
        .values(status=PaymentStatus.PROCESSING, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if claimed.rowcount != 1:
        return await current_outcome(session, checkout_id, uid)
    payment = await session.get(Payment, payment_id, populate_existing=True)
    assert payment is not None
    try:
        result = await provider.confirm(provider_ref, code)
    except PaymentProviderError as exc:
        invalid = exc.code == "invalid_state"
        payment.status = PaymentStatus.DECLINED if invalid else PaymentStatus.REQUIRES_ACTION
        payment.failure_reason = exc.code if invalid else None
        payment.updated_at = utcnow()
        session.add(payment)
        await session.commit()
        raise CheckoutError("payment_error") from None
    payment.updated_at = utcnow()
    if result.status == PaymentStatus.SUCCEEDED:
        payment.status = PaymentStatus.SUCCEEDED
        session.add(payment)
        await session.commit()
        return await finalize(session, provider, checkout.id, payment_id, uid, start_provisioning)
    payment.status = PaymentStatus.DECLINED
    payment.failure_reason = result.failure_code
    session.add(payment)
    await session.commit()
    return unpaid_outcome(checkout.id, payment, replayed=False)
