"""A traveler's Stripe Customer and the cards they keep for later top-ups.

Each traveler gets one Stripe Customer at their first payment (``User.stripe_customer_id``).
A card typed into Stripe.js reaches the portal as a single-use token, becomes a card of that
Customer (https://docs.stripe.com/api/cards/create) and is paid with. If the traveler ticked
"keep this card", a ``SavedCard`` row (brand and last four digits only) lists it on the
account page and at checkout; otherwise the card is removed from the Customer once its payment
is settled (:func:`release_unkept_card`). Removing a saved card removes it at Stripe first,
then here (docs/payments.md#saved-cards).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Checkout, Payment, PaymentStatus, SavedCard, User
from travelsim.services.checkout_errors import CheckoutError
from travelsim.services.payments import CardInfo, PaymentProvider, PaymentProviderError

__all__ = [
    "CardOwner",
    "CardRow",
    "card_for_payment",
    "customer_for",
    "list_cards",
    "payment_and_card_owner",
    "payment_buyer_and_card_owner",
    "release_unkept_card",
    "remember",
    "remove_card",
    "store_customer",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CardRow:
    """A saved card as pages show it: ``id`` (``SavedCard.id``), ``brand``, ``last4``."""

    id: int
    brand: str
    last4: str

    @property
    def label(self) -> str:
        """e.g. ``"Visa •••• 4242"``."""
        return f"{self.brand or 'Card'} •••• {self.last4}"


async def customer_for(provider: PaymentProvider, user: User) -> tuple[str, bool]:
    """The traveler's Stripe Customer id and whether it is already stored: ``user``'s
    ``stripe_customer_id`` (``user`` as loaded for this request), else a new Customer made
    now, ``(id, False)``, which the caller stores with :func:`store_customer` in its next
    commit. Touches no database row, so no connection is held while Stripe answers. Two
    concurrent first payments get one Customer on Stripe (idempotency key per traveler,
    ``StripeProvider.ensure_customer``). Raises :class:`PaymentProviderError`."""
    assert user.id is not None
    if user.stripe_customer_id:
        return user.stripe_customer_id, True
    made = await provider.ensure_customer(email=user.email, user_id=user.id, existing=None)
    return made, False


#: Built once (one per purchase otherwise): the values are bound at execution.
_STORE_CUSTOMER = (
    update(User)
    .where(col(User.id) == bindparam("user_ref"), col(User.stripe_customer_id).is_(None))
    .values(stripe_customer_id=bindparam("customer_ref"))
    .execution_options(synchronize_session=False)
)


async def store_customer(session: AsyncSession, user_id: int, customer_id: str) -> None:
    """Record ``customer_id`` as the traveler's Customer unless one is stored already (a
    conditional update: the first concurrent payment wins, the others keep paying with the
    Customer their card was added to). The caller commits."""
    await session.execute(_STORE_CUSTOMER, {"user_ref": user_id, "customer_ref": customer_id})


async def card_for_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    user: User,
    customer_id: str,
    choice: Any,
) -> CardInfo:
    """The card to pay with: a new card's token added to the Customer
    (``checkout_payment.NewCard``), or the traveler's own saved card
    (``checkout_payment.SavedCardChoice``). Raises CheckoutError ``card_not_found`` (not one
    of theirs), ``payments.CardDeclined``, :class:`PaymentProviderError`."""
    saved_id = getattr(choice, "saved_card_id", None)
    if saved_id is not None:
        row = await session.get(SavedCard, saved_id)
        if row is None or row.user_id != user.id:
            raise CheckoutError("card_not_found")
        return CardInfo(row.provider_ref, row.brand, row.last4, row.country or "")
    return await provider.attach_card(customer_id, choice.token)


async def remember(session: AsyncSession, user_id: int, card: CardInfo) -> None:
    """Keep ``card`` for later (a ``SavedCard`` row; committed). Already kept is fine."""
    session.add(
        SavedCard(
            user_id=user_id,
            provider_ref=card.ref,
            brand=card.brand,
            last4=card.last4,
            country=card.country or None,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()


async def list_cards(session: AsyncSession, user_id: int) -> list[CardRow]:
    """The traveler's saved cards, oldest first."""
    rows = (
        await session.exec(
            select(SavedCard).where(col(SavedCard.user_id) == user_id).order_by(col(SavedCard.id))
        )
    ).all()
    return [CardRow(id=r.id or 0, brand=r.brand, last4=r.last4) for r in rows]


async def remove_card(
    session: AsyncSession, provider: PaymentProvider, user_id: int, saved_card_id: int
) -> bool:
    """Remove the traveler's saved card ``saved_card_id``: from their Stripe Customer, then
    the row (committed). ``False`` when it is not theirs (nothing done). Raises
    :class:`PaymentProviderError` when Stripe could not remove it (the row stays, so the
    page keeps showing a card that Stripe still has)."""
    row = await session.get(SavedCard, saved_card_id)
    if row is None or row.user_id != user_id:
        return False
    user = await session.get(User, user_id)
    if user is not None and user.stripe_customer_id:
        await provider.detach_card(user.stripe_customer_id, row.provider_ref)
    await session.delete(row)
    await session.commit()
    log.info("saved card removed", extra={"user_id": user_id})
    return True


@dataclass(frozen=True, slots=True)
class CardOwner:
    """Whose a payment's card is: the traveler's Stripe Customer (``customer_id``) and the
    ``SavedCard`` row that keeps the card (``kept_id``; ``None``: not kept)."""

    customer_id: str | None
    kept_id: int | None


def _payment_with(buyer: Any) -> Any:
    """The payment ``:payment_ref`` read afresh with ``buyer`` (a column or the whole row of
    the paying traveler) and the id of the ``SavedCard`` that keeps its card, if any."""
    return (
        select(Payment, buyer, SavedCard.id)
        .join(Checkout, col(Checkout.id) == col(Payment.checkout_id))
        .join(User, col(User.id) == col(Checkout.user_id))
        .outerjoin(SavedCard, col(SavedCard.provider_ref) == col(Payment.card_ref))
        .where(col(Payment.id) == bindparam("payment_ref"))
        .execution_options(populate_existing=True)
    )


#: The payment with its card's owner; built once (one per purchase otherwise).
_OWNER_QUERY: Any = _payment_with(User.stripe_customer_id)
#: The same with the buyer's account row, for the deliver step (its email goes to them).
_BUYER_QUERY: Any = _payment_with(User)


async def payment_and_card_owner(
    session: AsyncSession, payment_id: int
) -> tuple[Payment, CardOwner] | None:
    """The payment ``payment_id`` read afresh, with its :class:`CardOwner`, in one query
    (``None``: no such payment)."""
    row = (await session.exec(_OWNER_QUERY, params={"payment_ref": payment_id})).first()
    if row is None:
        return None
    payment, customer_id, kept_id = row
    return payment, CardOwner(customer_id, kept_id)


async def payment_buyer_and_card_owner(
    session: AsyncSession, payment_id: int
) -> tuple[Payment, User, CardOwner] | None:
    """The payment ``payment_id`` and the buyer's ``User`` read afresh, with the card's
    :class:`CardOwner`, in one query (``None``: no such payment)."""
    row = (await session.exec(_BUYER_QUERY, params={"payment_ref": payment_id})).first()
    if row is None:
        return None
    payment, buyer, kept_id = row
    return payment, buyer, CardOwner(buyer.stripe_customer_id, kept_id)


async def release_unkept_card(
    session: AsyncSession,
    provider: PaymentProvider,
    payment: Payment,
    owner: CardOwner | None = None,
) -> None:
    """The payment is settled (captured, released or declined): remove its card from the
    traveler's Customer unless they kept it (a ``SavedCard`` row with that card). Best
    effort: a Stripe failure is logged and left (the card stays on the Customer, unlisted).
    A new card the traveler asked to keep with this payment is not kept when it was
    declined. ``owner``: the card's owner as read with the payment (else read here)."""
    if not payment.card_ref:
        return
    if owner is None:
        assert payment.id is not None
        found = await payment_and_card_owner(session, payment.id)
        if found is None:
            return
        owner = found[1]
    customer_id, kept_id = owner.customer_id, owner.kept_id
    if kept_id is not None and payment.keep_card and payment.status == PaymentStatus.DECLINED:
        # Kept with this very payment, which was declined: not kept after all.
        await session.execute(delete(SavedCard).where(col(SavedCard.id) == kept_id))
        await session.commit()
        kept_id = None
    if kept_id is not None or not customer_id:
        return
    try:
        await provider.detach_card(customer_id, payment.card_ref)
    except PaymentProviderError as exc:
        log.warning("card not removed from the customer", extra={"code": exc.code})
