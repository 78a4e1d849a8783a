"""Recording Stripe's answer to a payment of a checkout, shared by paying
(:mod:`travelsim.services.checkout_payment`) and settling
(:mod:`travelsim.services.checkout_settle`): :func:`apply_charge` turns a held PaymentIntent
into the order (one transaction) or records the decline / 3-D Secure step;
:func:`record_charge` copies the answer onto the row."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Payment, PaymentStatus, utcnow
from travelsim.services import inventory, saved_cards
from travelsim.services.checkout_outcome import PayOutcome, paid_outcome, unpaid_outcome
from travelsim.services.order_creation import (
    StartProvisioning,
    create_order,
    finalize,
    order_created,
)
from travelsim.services.payments import ChargeResult, ChargeStatus, PaymentProvider

__all__ = ["apply_charge", "as_processing", "mark", "record_charge"]

log = logging.getLogger(__name__)


def as_processing(payment: Payment) -> Payment:
    """A detached copy of ``payment`` shown as ``processing`` (nothing written)."""
    return Payment(
        id=payment.id,
        checkout_id=payment.checkout_id,
        idempotency_key=payment.idempotency_key,
        provider=payment.provider,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=PaymentStatus.PROCESSING,
        card_last4=payment.card_last4,
    )


async def mark(
    session: AsyncSession, payment: Payment, status: PaymentStatus, reason: str | None
) -> None:
    payment.status = status
    payment.failure_reason = reason
    payment.updated_at = utcnow()
    session.add(payment)
    await session.commit()


async def apply_charge(
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
        "payment authorised" if result.status == ChargeStatus.AUTHORIZED else "payment answered",
        extra={"checkout_id": checkout_id, "status": result.status, "code": result.failure_code},
    )
    if result.status in (ChargeStatus.AUTHORIZED, ChargeStatus.SUCCEEDED):
        # Usually the held payment and its order are ONE commit. A crash before it leaves
        # the payment ``processing``: resent with the same idempotency key (the same
        # PaymentIntent on Stripe), or settled by the webhook / status read.
        # Stripe's answer is recorded first: the order is written from the amount Stripe
        # holds (a mismatch makes it needs_attention). Row locks: payment, then eSIM and
        # checkout; no other transaction locks the payment row and then waits for those (a
        # concurrent pay() of the same checkout fails at once on the payment's unique key;
        # settle_payment_intent updates the payment in a transaction of its own), so this
        # cannot deadlock (PostgreSQL).
        try:
            record_charge(payment, result)
            session.add(payment)
            await session.flush()
            order = await create_order(session, checkout_id, payment_id, user_id, payment=payment)
            await session.commit()
        except (IntegrityError, inventory.InventoryError):
            # A concurrent order, or no eSIM left: record the hold on its own first, then
            # take the general path (which returns the existing order or releases the hold).
            await session.rollback()
            fresh = await session.get(Payment, payment_id, populate_existing=True)
            assert fresh is not None
            if fresh.status in (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION):
                record_charge(fresh, result)
                session.add(fresh)
                await session.commit()
            return await finalize(
                session, provider, checkout_id, payment_id, user_id, start_provisioning
            )
        order_created(order, checkout_id, start_provisioning)
        return paid_outcome(checkout_id, order, payment, replayed=False)
    record_charge(payment, result)
    session.add(payment)
    await session.commit()
    if payment.status == PaymentStatus.DECLINED:
        await saved_cards.release_unkept_card(session, provider, payment)
    return unpaid_outcome(checkout_id, payment, replayed=False, client_secret=result.client_secret)


def record_charge(payment: Payment, result: ChargeResult) -> None:
    """Copy Stripe's answer onto ``payment`` (the caller adds and commits). The amount and
    currency held are the PaymentIntent's: if they are not the checkout's, the order is
    written ``needs_attention`` (``order_creation.create_order``)."""
    payment.provider_ref = result.provider_ref or payment.provider_ref
    payment.updated_at = utcnow()
    if result.status in (ChargeStatus.AUTHORIZED, ChargeStatus.SUCCEEDED) and result.currency:
        payment.amount_minor, payment.currency = result.amount_minor, result.currency
    if result.status == ChargeStatus.AUTHORIZED:
        payment.status, payment.failure_reason = PaymentStatus.AUTHORIZED, None
    elif result.status == ChargeStatus.SUCCEEDED:
        payment.status, payment.failure_reason = PaymentStatus.SUCCEEDED, None
        payment.captured_at = payment.captured_at or payment.updated_at
    elif result.status == ChargeStatus.REQUIRES_ACTION:
        payment.status, payment.failure_reason = PaymentStatus.REQUIRES_ACTION, None
    elif result.status == ChargeStatus.PROCESSING:
        payment.status = PaymentStatus.PROCESSING
    else:
        payment.status = PaymentStatus.DECLINED
        payment.failure_reason = result.failure_code
