"""Paying a checkout through Stripe: hold the amount once, settle the PaymentIntent from
whichever of the browser, the webhook and the status read sees it first, create the order.

1. :func:`pay` re-checks ownership and the device confirmation, keeps (or re-takes) the
   reservation for the payment window (``checkout_reservation.hold_esim``), inserts a
   ``Payment`` row in status ``processing`` under a unique idempotency key (the checkout id;
   ``<checkout id>:<n>`` for the n-th attempt after declines), then: the traveler's Stripe
   Customer (made once), the card (the browser's single-use token added to the Customer, or
   a saved card of theirs), and ONE PaymentIntent with manual capture, amount and currency
   from the database (``payments.StripeProvider.authorize``; its Stripe idempotency key is
   ``payments.stripe_idempotency_key``). Two concurrent calls compute the same key: the
   unique constraint lets one through and the other returns the first one's state. An
   ``authorized`` PaymentIntent (the amount held) creates, in ONE transaction, the order, its
   steps, the eSIM assignment and the checkout's ``paid`` status
   (``order_creation.create_order``); the hold is captured when the eSIM is delivered and
   released when provisioning is given up (``payment_holds.capture_payment`` /
   ``payment_holds.void_payment``; docs/payments.md#charged-only-for-a-delivered-esim).
2. ``requires_action`` → the outcome carries the PaymentIntent's client secret; the browser
   runs 3-D Secure with Stripe.js (``confirmCardPayment``) and then calls
   :func:`confirm_payment`, which reads the PaymentIntent and settles it.
3. :func:`settle_payment_intent` is the one idempotent step behind the browser's return path,
   the webhook (``services.stripe_events``) and the status read of the recovery job: the
   payment row moves by conditional updates, the order by the unique
   ``purchase_order.checkout_id``, so whichever arrives first wins and the others find the
   order (docs/payments.md#webhooks).
4. Declined → the checkout stays ``open`` with a clear message; the reservation runs on until
   it expires.

Once the commit that created an order is done, its provisioning is started in the background
(``order_creation.order_created``: ``start_provisioning``, default
``platform.ensure_provisioning``; docs/architecture.md#one-purchase-click-to-qr). An order left
``paid`` is resumed by the recovery job (``jobs.runs.run_recovery``).

Payment statuses used here (``PaymentStatus``): ``processing`` (row claimed, Stripe's answer
pending), ``requires_action``, ``authorized``, ``declined``, ``voided``, ``flagged``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Payment,
    PaymentStatus,
    User,
    utcnow,
)
from travelsim.services import consent, platform, saved_cards
from travelsim.services.checkout import (
    CheckoutError,
    owned_checkout_and_order,
    payments_for,
    user_id_of,
)
from travelsim.services.checkout_charge import apply_charge, as_processing, mark
from travelsim.services.checkout_guard import expire_if_stale, recheck_for_charge
from travelsim.services.checkout_outcome import (
    PayOutcome,
    PayStatus,
    current_outcome,
    replayed_order,
    unpaid_outcome,
)
from travelsim.services.checkout_reservation import close_sold_out, hold_esim, hold_time
from travelsim.services.checkout_settle import (
    confirm_payment,
    resend_unanswered,
    settle_payment_intent,
)
from travelsim.services.order_creation import (
    StartProvisioning,
    finalize,
)
from travelsim.services.payments import (
    CardDeclined,
    ChargeResult,
    ChargeStatus,
    PaymentProvider,
    PaymentProviderError,
    stripe_idempotency_key,
)

__all__ = [
    "STALE_PROCESSING",
    "TOKEN_RE",
    "CardChoice",
    "NewCard",
    "SavedCardChoice",
    "confirm_payment",
    "pay",
    "resend_unanswered",
    "settle_payment_intent",
]

log = logging.getLogger(__name__)

#: A ``processing`` payment untouched this long is treated as abandoned (crash) and re-sent
#: with the SAME idempotency key, which Stripe answers with the same PaymentIntent.
STALE_PROCESSING = timedelta(minutes=2)

#: A Stripe card token id as the browser may send it (anything else is refused unsent).
TOKEN_RE = re.compile(r"tok_[A-Za-z0-9]{6,64}")


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card typed into Stripe.js: its single-use token (``tok_…``). Raises CheckoutError
    ``bad_card`` for anything else (the browser sent something that is not a token)."""

    token: str

    def __post_init__(self) -> None:
        if not TOKEN_RE.fullmatch(self.token or ""):
            raise CheckoutError("bad_card")


@dataclass(frozen=True, slots=True)
class SavedCardChoice:
    """One of the traveler's saved cards (``SavedCard.id``; ownership is checked)."""

    saved_card_id: int


CardChoice = NewCard | SavedCardChoice


# --- pay -------------------------------------------------------------------------------------
async def pay(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    card: CardChoice,
    device_confirmed: bool,
    keep_card: bool = False,
    payment_window_minutes: int | None = None,
    start_provisioning: StartProvisioning | None = platform.ensure_provisioning,
    off_session: bool = False,
    acceptance: consent.Acceptance | None = None,
) -> PayOutcome:
    """Hold the checkout's amount on the card once; on success create the order (one
    transaction); commits.

    Args:
        provider: Stripe (``payments.get_provider()``; localstripe in the demo).
        checkout_id, user: the checkout and the signed-in traveler (ownership is checked).
        card: :class:`NewCard` (a Stripe.js token) or :class:`SavedCardChoice`.
        device_confirmed: the traveler ticked "my destination is right and my phone supports
            eSIM and is carrier-unlocked" (here, or already at ``checkout.start_checkout``).
        keep_card: keep a new card on the traveler's Stripe Customer for later top-ups
            (``saved_card``); otherwise it is removed once the payment is settled.
        payment_window_minutes: how long the reservation is extended while paying (default
            ``CHECKOUT_RESERVATION_MINUTES``).
        start_provisioning: called with the order id once the order is committed; ``None``
            starts nothing (callers that run ``provisioning.run_order`` themselves).
        off_session: the traveler is not there (an automatic top-up with a saved card): the
            PaymentIntent is made ``off_session`` (docs/payments.md#off-session-payments).
            Its checkout carries the acceptance of the rule (when it has one), not checked here.
        acceptance: the two boxes ticked now (``consent.Acceptance``), checked and recorded
            on the checkout in the transaction that claims the payment; else the checkout
            must already record them (``consent.record``).

    Returns a :class:`PayOutcome`: ``paid`` (held; the order exists), ``requires_action``
    (``client_secret`` for Stripe.js), ``declined`` or ``processing``. Idempotent per
    checkout: once paid, every further call returns the same order (``replayed=True``)
    without charging; while 3-D Secure is pending it returns ``requires_action`` again;
    while another call is charging it returns ``processing``.

    Raises CheckoutError: ``not_found`` (unknown or another user's checkout),
    ``confirm_device``, ``expired``, ``checkout_closed``, ``unknown_plan``,
    ``bad_destination``, ``accept_terms`` (the terms or the immediate-start request not
    recorded, or terms no longer current: nothing charged), ``price_changed`` (nothing
    charged), a top-up refusal, ``sold_out``
    (nothing charged), ``card_not_found`` (a saved card that is not theirs),
    ``payment_error`` (Stripe failed before anything could be held: nothing was charged),
    ``payment_unconfirmed`` (Stripe failed while the PaymentIntent was being made: paying
    again resends the same idempotency key, never a second charge).
    """
    uid = user_id_of(user)
    checkout, order = await owned_checkout_and_order(session, checkout_id, uid)
    payments = await payments_for(session, checkout.id)
    if order is not None:
        return replayed_order(checkout.id, order, payments)
    _check_payable(checkout, device_confirmed)
    if not off_session:
        consent.require(checkout, acceptance)  # docs/legal.md#acceptance-at-checkout
    now = utcnow()
    outcome, resend = await _earlier_attempt(
        session, provider, checkout.id, payments, now, start_provisioning
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
    if acceptance is not None:
        # Written with the hold and the payment's claim (one commit, below), after the eSIM
        # row: the lock order every pay takes, so concurrent pays cannot deadlock.
        consent.apply(checkout, acceptance)
        session.add(checkout)
    if resend is not None:
        payment = resend
        await session.commit()
    else:
        keep = keep_card and isinstance(card, NewCard)  # a saved card is kept already
        claimed = await _claim_payment(session, provider, checkout, len(payments), keep, now)
        if claimed is None:  # another request for this checkout claimed the same key first
            return await current_outcome(session, checkout_id, uid)
        payment = claimed
    result = await _authorize(session, provider, checkout, payment, user, card, off_session)
    return await apply_charge(
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
    now: datetime,
    start_provisioning: StartProvisioning | None,
) -> tuple[PayOutcome | None, Payment | None]:
    """What the checkout's earlier payments decide, oldest first: an outcome to return as it
    is (held but no order yet → the order; 3-D Secure pending; another request still
    charging), else ``(None, payment)`` with an abandoned ``processing`` payment to re-send
    under its own key, or ``(None, None)``: a new payment."""
    resend: Payment | None = None
    for p in payments:
        if p.status in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED) and p.id is not None:
            checkout = await session.get(Checkout, checkout_id)
            assert checkout is not None
            return await finalize(
                session, provider, checkout_id, p.id, checkout.user_id, start_provisioning
            ), None
        if p.status == PaymentStatus.REQUIRES_ACTION and p.provider_ref:
            outcome = await _still_pending(session, provider, checkout_id, p, start_provisioning)
            if outcome is not None:
                return outcome, None
            continue  # settled as declined meanwhile: a new payment may be made
        if p.status == PaymentStatus.PROCESSING:
            stale = p.failure_reason == "provider_error" or p.updated_at < now - STALE_PROCESSING
            if not stale:
                return unpaid_outcome(checkout_id, p, replayed=True), None
            resend = p
    return None, resend


async def _still_pending(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payment: Payment,
    start_provisioning: StartProvisioning | None,
) -> PayOutcome | None:
    """A payment waiting for 3-D Secure, read again at Stripe: its outcome (3-D Secure still
    pending with a fresh client secret, or the order if it was held meanwhile), or ``None``
    when it was declined (the traveler may pay again). Stripe unreachable → ``processing``."""
    assert payment.provider_ref is not None
    try:
        await session.commit()  # no database connection held while Stripe answers
        current = await provider.retrieve(payment.provider_ref)
    except PaymentProviderError:
        return unpaid_outcome(checkout_id, as_processing(payment), replayed=True)
    settled = await settle_payment_intent(
        session,
        provider,
        payment.provider_ref,
        result=current,
        start_provisioning=start_provisioning,
    )
    if settled is None or settled.status == PayStatus.DECLINED:
        return None
    return settled


async def _claim_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout: Checkout,
    earlier: int,
    keep_card: bool,
    now: datetime,
) -> Payment | None:
    """Insert the checkout's next payment (``processing``; key = the checkout id, or
    ``<id>:<n>`` after ``earlier`` payments; amount and currency are the checkout's) and
    commit. ``None`` (rolled back) when a concurrent request inserted the same key first."""
    payment = Payment(
        checkout_id=checkout.id,
        idempotency_key=checkout.id if not earlier else f"{checkout.id}:{earlier + 1}",
        provider=provider.name,
        amount_minor=checkout.amount_minor,
        currency=checkout.currency,
        status=PaymentStatus.PROCESSING,
        keep_card=keep_card,
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


async def _authorize(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout: Checkout,
    payment: Payment,
    user: User,
    card: CardChoice,
    off_session: bool = False,
) -> ChargeResult:
    """Customer, card, then the PaymentIntent under the payment's Stripe idempotency key. A
    new card the traveler keeps (``Payment.keep_card``) is listed as saved as soon as it is
    on their Customer; a decline removes it again (``saved_cards.release_unkept_card``).

    A card refused before any PaymentIntent exists comes back ``declined``. Stripe failing
    before the PaymentIntent call (nothing held) declines the payment with
    ``provider_error`` and raises CheckoutError ``payment_error``; failing during it
    (outcome unknown) keeps the payment ``processing`` for a resend under the same key and
    raises ``payment_unconfirmed``."""
    assert payment.id is not None
    try:
        customer, stored = await saved_cards.customer_for(provider, user)
        chosen = None
        try:
            if payment.card_ref is None:  # a resend reuses the card of the first send
                chosen = await saved_cards.card_for_payment(session, provider, user, customer, card)
                payment.card_ref, payment.card_last4 = chosen.ref, chosen.last4
                payment.card_country = chosen.country or None  # VAT evidence
                payment.updated_at = utcnow()
                session.add(payment)
        finally:
            # One commit records a new Customer (even when the card was refused) and the
            # card, before the PaymentIntent: a resend must use the same card (its
            # idempotency key covers the parameters).
            if not stored:
                await saved_cards.store_customer(session, user_id_of(user), customer)
            await session.commit()
        if chosen is not None and payment.keep_card:
            await saved_cards.remember(session, user_id_of(user), chosen)
    except CardDeclined as exc:
        return ChargeResult(
            ChargeStatus.DECLINED, None, payment.amount_minor, payment.currency, exc.code
        )
    except PaymentProviderError as exc:
        await mark(session, payment, PaymentStatus.DECLINED, "provider_error")
        log.warning(
            "Stripe failed before the hold", extra={"checkout_id": checkout.id, "code": exc.code}
        )
        raise CheckoutError("payment_error") from None
    assert payment.card_ref is not None
    try:
        return await provider.authorize(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            customer_id=customer,
            card_ref=payment.card_ref,
            idempotency_key=stripe_idempotency_key(payment),
            metadata={
                "checkout_id": checkout.id,
                "payment_id": str(payment.id),
                "user_id": str(checkout.user_id),
            },
            off_session=off_session,
        )
    except PaymentProviderError as exc:
        log.warning(
            "Stripe failed making the hold", extra={"checkout_id": checkout.id, "code": exc.code}
        )
        if exc.code == "provider_unavailable":
            payment.failure_reason = "provider_error"  # resent under the same key
            payment.updated_at = utcnow()
            session.add(payment)
            await session.commit()
            raise CheckoutError("payment_unconfirmed") from None
        await mark(session, payment, PaymentStatus.DECLINED, exc.code)
        raise CheckoutError("payment_error") from None
