"""What paying a checkout came to, for the UI: :class:`PayOutcome`, built from the checkout's
payment and order rows, and :func:`payment_outcome` to read it again without charging (polling
a ``processing`` outcome, re-rendering after a reload)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import CheckoutStatus, Order, Payment, PaymentStatus, User
from travelsim.services.checkout import (
    CheckoutError,
    owned_checkout_and_order,
    payments_for,
    user_id_of,
)
from travelsim.services.payments import failure_message

__all__ = [
    "PayOutcome",
    "PayStatus",
    "current_outcome",
    "paid_outcome",
    "payment_outcome",
    "replayed_order",
    "unpaid_outcome",
]


class PayStatus(StrEnum):
    """What a payment call produced (:class:`PayOutcome`)."""

    PAID = "paid"
    REQUIRES_ACTION = "requires_action"
    DECLINED = "declined"
    PROCESSING = "processing"


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """What a payment call produced, for the UI.

    ``status``: ``paid`` (``order_id``/``order_reference`` set: provisioning has been started;
    show its progress), ``requires_action`` (run 3-D Secure with ``client_secret`` in
    Stripe.js, then :func:`confirm_payment`), ``declined`` (show ``message``; the traveler
    may try another card), ``processing`` (another request for this checkout is mid-payment: poll
    :func:`payment_outcome`; after a 3-D Secure step the webhook or the status read settles
    it). ``replayed`` is True when nothing new was charged because the
    checkout already had this outcome (double click, reload, retry).
    """

    status: PayStatus
    checkout_id: str
    payment_id: int | None = None
    order_id: str | None = None
    order_reference: str | None = None
    error_code: str | None = None
    message: str = ""
    card_last4: str | None = None
    replayed: bool = False
    #: For ``requires_action``: the PaymentIntent's client secret, handed to Stripe.js
    #: (``confirmCardPayment``) in the browser; never stored, never logged.
    client_secret: str | None = field(default=None, repr=False)

    @property
    def requires_action(self) -> bool:
        """True when the browser must run 3-D Secure (Stripe.js ``confirmCardPayment``)."""
        return self.status == PayStatus.REQUIRES_ACTION

    @property
    def error(self) -> str | None:
        """Alias of ``error_code``."""
        return self.error_code


def paid_outcome(
    checkout_id: str, order: Order, payment: Payment | None, *, replayed: bool
) -> PayOutcome:
    """The ``paid`` outcome of ``checkout_id``: its order, and ``payment``'s last 4 digits."""
    return PayOutcome(
        status=PayStatus.PAID,
        checkout_id=checkout_id,
        payment_id=order.payment_id,
        order_id=order.id,
        order_reference=order.reference,
        card_last4=payment.card_last4 if payment else None,
        replayed=replayed,
    )


def replayed_order(checkout_id: str, order: Order, payments: list[Payment]) -> PayOutcome:
    """The outcome of a checkout whose order exists: that order, nothing charged."""
    payment = next((p for p in payments if p.id == order.payment_id), None)
    return paid_outcome(checkout_id, order, payment, replayed=True)


def unpaid_outcome(
    checkout_id: str, payment: Payment, *, replayed: bool, client_secret: str | None = None
) -> PayOutcome:
    """Outcome of a payment that has no order (yet); ``client_secret`` for a
    ``requires_action`` payment (from Stripe, never from the database)."""
    status: PayStatus
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        status = PayStatus.REQUIRES_ACTION
    elif payment.status in (
        PaymentStatus.PROCESSING,
        PaymentStatus.AUTHORIZED,
        PaymentStatus.SUCCEEDED,
    ):
        status = PayStatus.PROCESSING  # authorized: order being written
    else:
        status = PayStatus.DECLINED
    code = payment.failure_reason if status == PayStatus.DECLINED else None
    return PayOutcome(
        status=status,
        checkout_id=checkout_id,
        payment_id=payment.id,
        error_code=code,
        message=failure_message(code) if status == "declined" else "",
        card_last4=payment.card_last4,
        replayed=replayed,
        client_secret=client_secret if status == PayStatus.REQUIRES_ACTION else None,
    )


async def payment_outcome(session: AsyncSession, *, checkout_id: str, user: User) -> PayOutcome:
    """The current outcome of ``checkout_id`` without charging (for polling a ``processing``
    outcome, or re-rendering after a reload). Raises CheckoutError ``not_found`` (also for
    another user's checkout) and ``checkout_closed`` when nothing was ever paid and the
    checkout is closed or has no payment yet."""
    return await current_outcome(session, checkout_id, user_id_of(user))


async def current_outcome(session: AsyncSession, checkout_id: str, user_id: int) -> PayOutcome:
    """:func:`payment_outcome` for ``user_id`` (the same errors)."""
    checkout, order = await owned_checkout_and_order(session, checkout_id, user_id)
    payments = await payments_for(session, checkout.id)
    if order is not None:
        return replayed_order(checkout.id, order, payments)
    if not payments:
        raise CheckoutError(
            "checkout_closed" if checkout.status != CheckoutStatus.OPEN else "no_pending_payment"
        )
    return unpaid_outcome(checkout.id, payments[-1], replayed=True)
