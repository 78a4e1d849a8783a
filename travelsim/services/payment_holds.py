"""Releasing or capturing a payment's hold at Stripe: :func:`void_payment` (the portal cannot
honour the payment: sold out after paying, provisioning given up, staff) and
:func:`capture_payment` (the eSIM was delivered). Both record the outcome on the ``Payment``
row and never raise for a Stripe failure: a hold that could not be released or captured is
``flagged`` for staff (docs/payments.md#charged-only-for-a-delivered-esim). The deliver step of
provisioning captures through :func:`capture_with_delivery`, in the transaction that marks the
order delivered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Payment, PaymentStatus, User, utcnow
from travelsim.services.payments import (
    ChargeStatus,
    PaymentProvider,
    PaymentProviderError,
    get_provider,
)
from travelsim.services.saved_cards import CardOwner, payment_buyer_and_card_owner

__all__ = ["DeliveryCapture", "capture_payment", "capture_with_delivery", "void_payment"]

log = logging.getLogger(__name__)


def _flag(payment: Payment, what: str, code: str) -> None:
    payment.status = PaymentStatus.FLAGGED
    payment.failure_reason = f"{what} failed: {code}"[:200]


async def void_payment(payment: Payment, provider: PaymentProvider | None = None) -> None:
    """Release ``payment``'s hold at Stripe (the portal cannot honour it: sold out after
    paying, provisioning given up). Sets ``status`` ``voided``, or ``flagged`` with
    ``failure_reason`` ``"void failed: <code>"`` (at most 200 characters) when it could not be
    released (Stripe error, no PaymentIntent): a human must look. A captured payment is
    refunded by Stripe's side of :meth:`StripeProvider.void`. Sets ``updated_at`` (UTC); the
    caller adds and commits. Never raises for a provider failure."""
    try:
        prov = provider or get_provider(payment.provider)
        if not payment.provider_ref:
            raise PaymentProviderError("no_ref", "payment has no PaymentIntent")
        await prov.void(payment.provider_ref)
        payment.status = PaymentStatus.VOIDED
    except (PaymentProviderError, KeyError) as exc:
        code = exc.code if isinstance(exc, PaymentProviderError) else type(exc).__name__
        _flag(payment, "void", code)
    payment.updated_at = utcnow()


async def capture_payment(
    payment: Payment, provider: PaymentProvider | None = None, *, now: datetime | None = None
) -> bool:
    """Capture ``payment``'s hold (its eSIM was delivered): ``succeeded`` with
    ``captured_at`` (UTC). A payment that is not ``authorized`` is left as it is (``False``).
    When Stripe refuses (e.g. the hold expired after 7 days) the payment is ``flagged``
    (``"capture failed: <code>"``) and ``False`` returned; a network failure leaves it
    ``authorized`` for the recovery job to try again (``False``). The caller adds and
    commits. Never raises for a provider failure."""
    if payment.status != PaymentStatus.AUTHORIZED or not payment.provider_ref:
        return False
    try:
        prov = provider or get_provider(payment.provider)
        result = await prov.capture(payment.provider_ref)
    except PaymentProviderError as exc:
        if exc.code == "provider_unavailable":
            log.warning("capture postponed: Stripe unavailable", extra={"payment_id": payment.id})
            return False
        _flag(payment, "capture", exc.code)
        payment.updated_at = utcnow()
        log.error("capture failed", extra={"payment_id": payment.id, "code": exc.code})
        return False
    if result.status != ChargeStatus.SUCCEEDED:
        _flag(payment, "capture", result.status)
        payment.updated_at = utcnow()
        return False
    payment.status = PaymentStatus.SUCCEEDED
    payment.captured_at = now or utcnow()
    payment.failure_reason = None
    payment.updated_at = payment.captured_at
    return True


@dataclass
class DeliveryCapture:
    """A provisioning run's capture of its order's hold, made by the deliver step:
    ``provider`` (``None``: the one the payment names); once the step has run,
    ``payment`` as it left it (``None``: the order has no payment row), the ``buyer``
    (the paying traveler's row, read with it), its card's ``owner``, whether it found the
    payment ``held`` (``authorized``: a capture was tried) and whether it ``captured``."""

    provider: PaymentProvider | None = None
    payment: Payment | None = None
    buyer: User | None = None
    owner: CardOwner | None = None
    held: bool = False
    captured: bool = False

    @property
    def settled(self) -> bool:
        """The hold was there and is not any more (captured, or flagged by the capture):
        the card can leave the Customer unless the traveler kept it."""
        return (
            self.held
            and self.payment is not None
            and self.payment.status != PaymentStatus.AUTHORIZED
        )


async def capture_with_delivery(
    session: AsyncSession, payment_id: int | None, capture: DeliveryCapture
) -> None:
    """Read the payment ``payment_id`` of a delivered order with its buyer (for the delivery
    email) and card owner, and capture its hold (:func:`capture_payment`), recording the
    outcome in ``capture``; the caller commits. The deliver step commits it with the order's
    ``delivered``, so a failed commit leaves both undone and the step's next attempt captures
    again, which Stripe answers with the captured PaymentIntent (``StripeProvider.capture``;
    docs/payments.md#charged-only-for-a-delivered-esim). Never raises for a provider failure."""
    capture.payment, capture.buyer, capture.owner = None, None, None
    capture.held = capture.captured = False
    found = await payment_buyer_and_card_owner(session, payment_id) if payment_id else None
    if found is None:
        return
    capture.payment, capture.buyer, capture.owner = found
    payment = found[0]
    capture.held = payment.status == PaymentStatus.AUTHORIZED
    if capture.held:
        capture.captured = await capture_payment(payment, capture.provider)
        session.add(payment)
