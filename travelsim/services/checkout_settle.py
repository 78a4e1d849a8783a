"""Settling a PaymentIntent: the one idempotent step behind the browser's return after 3-D
Secure (:func:`confirm_payment`), the Stripe webhook (``services.stripe_events``) and the
recovery job's status read (``services.payment_recovery``: :func:`settle_payment_intent`,
:func:`resend_unanswered`). Each payment transition is a conditional update from the statuses
it may leave and the order is unique per checkout, so whichever path arrives first wins and
the others find the order (docs/payments.md#webhooks)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    User,
    utcnow,
)
from travelsim.services import platform, saved_cards
from travelsim.services.checkout import (
    CheckoutError,
    order_for_checkout,
    owned_checkout_and_order,
    payments_for,
    user_id_of,
)
from travelsim.services.checkout_charge import apply_charge, as_processing, record_charge
from travelsim.services.checkout_outcome import (
    PayOutcome,
    PayStatus,
    current_outcome,
    paid_outcome,
    replayed_order,
    unpaid_outcome,
)
from travelsim.services.checkout_reservation import close_sold_out, hold_esim, hold_time
from travelsim.services.order_creation import StartProvisioning, finalize
from travelsim.services.payment_holds import void_payment
from travelsim.services.payments import (
    ChargeResult,
    ChargeStatus,
    PaymentProvider,
    PaymentProviderError,
    stripe_idempotency_key,
)

__all__ = ["confirm_payment", "resend_unanswered", "settle_payment_intent"]

log = logging.getLogger(__name__)


async def confirm_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    payment_window_minutes: int | None = None,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> PayOutcome:
    """The browser finished 3-D Secure (Stripe.js ``confirmCardPayment``): read the
    checkout's pending PaymentIntent at Stripe and settle it (:func:`settle_payment_intent`);
    commits. Held → the order (provisioning started as :func:`pay` does); failed → declined
    (the checkout stays open); Stripe unreachable → ``processing`` (the webhook or the
    status read settles it). Calling it again after success returns the same order.

    If the reservation lapsed and no eSIM is left, the pending hold is released and
    CheckoutError ``sold_out`` is raised. Raises CheckoutError ``not_found``,
    ``no_pending_payment``.
    """
    uid = user_id_of(user)
    checkout, order = await owned_checkout_and_order(session, checkout_id, uid)
    payments = await payments_for(session, checkout.id)
    if order is not None:
        return replayed_order(checkout.id, order, payments)
    pending = next(
        (
            p
            for p in reversed(payments)
            if p.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
            and p.provider_ref
        ),
        None,
    )
    if pending is None:
        if any(p.status in (PaymentStatus.PROCESSING, PaymentStatus.AUTHORIZED) for p in payments):
            return await current_outcome(session, checkout_id, uid)
        raise CheckoutError("no_pending_payment")
    assert pending.provider_ref is not None
    if not await hold_esim(session, checkout, utcnow() + hold_time(payment_window_minutes)):
        await void_payment(pending, provider)
        session.add(pending)
        await close_sold_out(session, checkout)
        raise CheckoutError("sold_out")
    await session.commit()
    try:
        outcome = await settle_payment_intent(
            session, provider, pending.provider_ref, start_provisioning=start_provisioning
        )
    except PaymentProviderError:
        log.warning("PaymentIntent unreadable after 3-D Secure", extra={"checkout_id": checkout_id})
        return unpaid_outcome(checkout.id, as_processing(pending), replayed=False)
    assert outcome is not None  # the payment exists
    return outcome


async def settle_payment_intent(
    session: AsyncSession,
    provider: PaymentProvider,
    ref: str,
    *,
    result: ChargeResult | None = None,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> PayOutcome | None:
    """Bring the payment of PaymentIntent ``ref`` in line with Stripe; commits. ``result`` is
    the PaymentIntent as already read (a webhook's object, a retrieve); without it Stripe is
    asked (raises :class:`PaymentProviderError` when it cannot be read).

    Idempotent and safe to race (the browser, the webhook and the recovery job call it):
    each payment transition is a conditional update from the statuses it may leave.
    Held (``requires_capture``) or captured → ``authorized``/``succeeded`` and the order
    (``order_creation.finalize``; no eSIM left: the hold is released, ``sold_out`` shown);
    3-D Secure pending → ``requires_action`` with the client secret; failed → ``declined``;
    cancelled at Stripe → ``declined`` (never held) or ``voided`` (an undelivered order is
    set ``needs_attention``: it will not be provisioned unpaid). Returns the checkout's
    outcome, or ``None`` when no payment of the portal has this PaymentIntent (logged)."""
    payment = (
        await session.exec(
            select(Payment)
            .where(col(Payment.provider_ref) == ref)
            .execution_options(populate_existing=True)
        )
    ).first()
    if payment is None or payment.id is None:
        log.warning("PaymentIntent unknown to the portal", extra={"payment_intent": ref})
        return None
    if result is None:
        await session.commit()  # no database connection held while Stripe answers
    current = result or await provider.retrieve(ref)
    checkout = await session.get(Checkout, payment.checkout_id, populate_existing=True)
    assert checkout is not None
    pid = payment.id
    if current.status in (ChargeStatus.AUTHORIZED, ChargeStatus.SUCCEEDED):
        sources: tuple[str, ...] = (*_UNSETTLED, PaymentStatus.DECLINED)
        if (
            current.status == ChargeStatus.SUCCEEDED
        ):  # captured (by us, with the answer lost; or by hand)
            sources = (*sources, PaymentStatus.AUTHORIZED)
        await _move(session, pid, sources, current)
        try:
            return await finalize(
                session, provider, checkout.id, pid, checkout.user_id, start_provisioning
            )
        except CheckoutError as exc:  # sold out: the hold was released
            return PayOutcome(
                PayStatus.DECLINED, checkout.id, pid, error_code=exc.code, message=exc.message
            )
    if current.status in (
        ChargeStatus.DECLINED,
        ChargeStatus.PROCESSING,
        ChargeStatus.REQUIRES_ACTION,
    ):
        await _move(session, pid, _UNSETTLED, current)
    elif current.status == ChargeStatus.CANCELED:
        await _canceled(session, provider, payment, checkout)
    fresh = await session.get(Payment, pid, populate_existing=True)
    assert fresh is not None
    if fresh.status == PaymentStatus.DECLINED:
        await saved_cards.release_unkept_card(session, provider, fresh)
    order = await order_for_checkout(session, checkout.id)
    if order is not None:
        return paid_outcome(checkout.id, order, fresh, replayed=True)
    return unpaid_outcome(checkout.id, fresh, replayed=True, client_secret=current.client_secret)


#: Payment statuses Stripe's answer may still change (nothing held or decided yet).
_UNSETTLED = (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION)


async def _move(
    session: AsyncSession, payment_id: int, sources: tuple[str, ...], current: ChargeResult
) -> bool:
    """Apply ``current`` to the payment if its status is one of ``sources`` (one conditional
    update; commits). True when this call moved it."""
    probe = Payment(
        checkout_id="", idempotency_key="", provider="", amount_minor=0, currency="", status=""
    )
    record_charge(probe, current)
    values: dict[str, Any] = {
        "status": probe.status,
        "failure_reason": probe.failure_reason,
        "updated_at": probe.updated_at,
    }
    if current.status in (ChargeStatus.AUTHORIZED, ChargeStatus.SUCCEEDED) and current.currency:
        values["amount_minor"], values["currency"] = current.amount_minor, current.currency
    if probe.captured_at is not None:
        values["captured_at"] = probe.captured_at
    moved: Any = await session.execute(
        update(Payment)
        .where(col(Payment.id) == payment_id, col(Payment.status).in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(moved.rowcount == 1)


async def _canceled(
    session: AsyncSession, provider: PaymentProvider, payment: Payment, checkout: Checkout
) -> None:
    """Stripe says the PaymentIntent is cancelled (by staff there, or the hold expired)."""
    assert payment.id is not None
    now = utcnow()
    await session.execute(
        update(Payment)
        .where(col(Payment.id) == payment.id, col(Payment.status).in_(_UNSETTLED))
        .values(status=PaymentStatus.DECLINED, failure_reason="canceled", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    voided: Any = await session.execute(
        update(Payment)
        .where(col(Payment.id) == payment.id, col(Payment.status) == PaymentStatus.AUTHORIZED)
        .values(status=PaymentStatus.VOIDED, failure_reason="canceled at Stripe", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if voided.rowcount == 1:
        await session.execute(
            update(Order)
            .where(
                col(Order.checkout_id) == checkout.id,
                col(Order.status).in_([OrderStatus.PAID, OrderStatus.PROVISIONING]),
            )
            .values(
                status=OrderStatus.NEEDS_ATTENTION,
                last_error="payment cancelled at Stripe before delivery: not provisioned",
                next_attempt_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        log.error("held payment cancelled at Stripe", extra={"checkout_id": checkout.id})
    await session.commit()


async def resend_unanswered(
    session: AsyncSession,
    provider: PaymentProvider,
    payment_id: int,
    *,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
) -> bool:
    """Send the PaymentIntent call of a ``processing`` payment that never got an answer
    (``card_ref`` set, no ``provider_ref``) again, under the SAME Stripe idempotency key, and
    settle what Stripe answers (the order if it is held); commits. True when the payment left
    ``processing``. Raises :class:`PaymentProviderError` while Stripe stays unreachable."""
    payment = await session.get(Payment, payment_id, populate_existing=True)
    if (
        payment is None
        or payment.status != PaymentStatus.PROCESSING
        or payment.provider_ref
        or not payment.card_ref
    ):
        return False
    checkout = await session.get(Checkout, payment.checkout_id)
    user = await session.get(User, checkout.user_id) if checkout is not None else None
    if checkout is None or user is None or not user.stripe_customer_id:
        return False
    result = await provider.authorize(
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        customer_id=user.stripe_customer_id,
        card_ref=payment.card_ref,
        idempotency_key=stripe_idempotency_key(payment),
        metadata={
            "checkout_id": checkout.id,
            "payment_id": str(payment_id),
            "user_id": str(checkout.user_id),
        },
    )
    try:
        await apply_charge(
            session, provider, checkout.id, payment, result, checkout.user_id, start_provisioning
        )
    except CheckoutError as exc:  # sold out meanwhile: the hold was released
        log.warning("resent payment not fulfilled", extra={"code": exc.code})
    fresh = await session.get(Payment, payment_id, populate_existing=True)
    return fresh is not None and fresh.status != PaymentStatus.PROCESSING
