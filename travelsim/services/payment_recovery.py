"""The recovery job's payment half: settle PaymentIntents nobody came back for, and capture
holds of delivered orders that could not be captured at delivery.

A traveler may close the tab right after 3-D Secure, the webhook may be lost, misconfigured
or late (localstripe sends none for a hold), and Stripe may be unreachable at the moment an
eSIM is delivered. So every recovery run (``jobs.runs.run_recovery``) reads, at Stripe:

* each payment still ``requires_action`` or ``processing`` with a PaymentIntent, untouched for
  :data:`SETTLE_AFTER`: ``checkout_payment.settle_payment_intent`` (the same idempotent step
  the browser and the webhook take: a hold creates the order);
* each ``authorized`` payment of a ``delivered`` order: ``provisioning.capture_order_payment``;
* each ``processing`` payment whose PaymentIntent call got no answer (a network failure while
  it was made: ``card_ref`` set, no PaymentIntent id), untouched for :data:`SETTLE_AFTER`: the
  call is sent again with the SAME Stripe idempotency key (``checkout_payment.resend_unanswered``),
  which Stripe answers with the PaymentIntent the first call made, if it made one
  (https://docs.stripe.com/api/idempotent_requests), then settles it.

docs/payments.md#status-read.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, select

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import Order, OrderStatus, Payment, PaymentStatus, utcnow
from travelsim.services import checkout_payment, provisioning
from travelsim.services.payments import PaymentProvider, PaymentProviderError, get_provider

__all__ = ["SETTLE_AFTER", "recover_payments"]

log = logging.getLogger(__name__)

#: How long a payment may wait for the browser or the webhook before the job reads it.
SETTLE_AFTER = timedelta(minutes=1)
_BATCH = 200


async def recover_payments(
    *,
    session_factory: SessionFactory = db.session,
    provider: PaymentProvider | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Run both reads (module docstring). Returns ``{"settled": n, "captured": m,
    "unreadable": k}`` (payments whose PaymentIntent changed state here, holds captured, and
    PaymentIntents Stripe could not be asked about this time). Never raises for a Stripe
    failure: the next run tries again."""
    now = now or utcnow()
    prov = provider or get_provider()
    counts = {"settled": 0, "captured": 0, "unreadable": 0}
    async with session_factory() as s:
        waiting = (
            await s.exec(
                select(Payment.id, Payment.provider_ref, Payment.status)
                .where(
                    col(Payment.status).in_(
                        [PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING]
                    ),
                    col(Payment.provider_ref).is_not(None),
                    col(Payment.updated_at) <= now - SETTLE_AFTER,
                )
                .order_by(col(Payment.id))
                .limit(_BATCH)
            )
        ).all()
        to_capture = (
            await s.exec(
                select(Order.id)
                .join(Payment, col(Payment.id) == col(Order.payment_id))
                .where(
                    col(Order.status) == OrderStatus.DELIVERED,
                    col(Payment.status) == PaymentStatus.AUTHORIZED,
                )
                .order_by(col(Order.delivered_at))
                .limit(_BATCH)
            )
        ).all()
    for _pid, ref, status in waiting:
        assert ref is not None
        async with session_factory() as s:
            try:
                await checkout_payment.settle_payment_intent(s, prov, ref)
            except PaymentProviderError as exc:
                counts["unreadable"] += 1
                log.warning("PaymentIntent unreadable", extra={"code": exc.code})
                continue
            fresh = (
                await s.exec(select(Payment.status).where(col(Payment.provider_ref) == ref))
            ).first()
            if fresh != status:
                counts["settled"] += 1
    async with session_factory() as s:
        unanswered = (
            await s.exec(
                select(Payment.id)
                .where(
                    col(Payment.status) == PaymentStatus.PROCESSING,
                    col(Payment.provider_ref).is_(None),
                    col(Payment.card_ref).is_not(None),
                    col(Payment.updated_at) <= now - SETTLE_AFTER,
                )
                .order_by(col(Payment.id))
                .limit(_BATCH)
            )
        ).all()
    for payment_id in unanswered:
        assert payment_id is not None
        async with session_factory() as s:
            try:
                if await checkout_payment.resend_unanswered(s, prov, payment_id):
                    counts["settled"] += 1
            except PaymentProviderError as exc:
                counts["unreadable"] += 1
                log.warning("PaymentIntent call still unanswered", extra={"code": exc.code})
    for order_id in to_capture:
        async with session_factory() as s:
            if await provisioning.capture_order_payment(s, order_id, prov):
                counts["captured"] += 1
    return counts
