"""Who an eSIM or an order belongs to: the two sides of ownership, decided here only.

- **The holder** of an eSIM: it is a traveler's when it is ``assigned`` to them
  (``Esim.user_id``) and is not a gift waiting to be claimed (``Esim.gift_pending``). The
  holder has the eSIM page, the install page and QR, usage, top-ups and replacement requests.
- **The buyer** of an order: ``Order.user_id``. The buyer has the order page, the receipt,
  the order history and any refund, whoever holds the eSIM now. After a gift is claimed the
  buyer and the holder are two people (docs/business-rules.md#gifts).

Every traveler-facing read or change asks this module, so "someone else's" and "does not
exist" are told apart nowhere: both are simply not found (no probing of other travelers' ids).
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Esim, InventoryState, Order, Payment, PaymentStatus, PurchaseKind


def is_owner(esim: Esim | None, user_id: int | None) -> bool:
    """True when ``user_id`` holds ``esim``: it exists, is ``assigned`` (sold for good) to
    ``user_id`` and is not a gift waiting to be claimed. A reserved eSIM (held by an open
    checkout) is nobody's yet; an unclaimed gift is nobody's either (not even its buyer's)."""
    return (
        esim is not None
        and user_id is not None
        and esim.user_id == user_id
        and esim.state == InventoryState.ASSIGNED
        and not esim.gift_pending
    )


async def owned_esim(
    session: AsyncSession, user_id: int | None, esim_id: int | None
) -> Esim | None:
    """The eSIM ``esim_id`` when :func:`is_owner` holds for ``user_id``, else ``None`` (also
    for a missing id). One primary-key read, no platform call."""
    if esim_id is None or user_id is None:
        return None
    esim = await session.get(Esim, esim_id)
    return esim if is_owner(esim, user_id) else None


def is_buyer(order: Order | None, user_id: int | None) -> bool:
    """True when ``order`` exists and ``user_id`` bought it (``Order.user_id``)."""
    return order is not None and user_id is not None and order.user_id == user_id


async def bought_order(
    session: AsyncSession, user_id: int | None, order_id: str | None
) -> Order | None:
    """The order ``order_id`` when :func:`is_buyer` holds for ``user_id``, else ``None``
    (also for a missing id). One primary-key read."""
    if not order_id or user_id is None:
        return None
    order = await session.get(Order, order_id)
    return order if is_buyer(order, user_id) else None


async def sale_refunded(session: AsyncSession, esim_id: int) -> bool:
    """True when the payment of the order that sold eSIM ``esim_id`` (``new_esim``) was
    refunded: staff withdrew its service (docs/business-rules.md#voids-and-refunds), so its
    install data is shown no more and its pages say why. One query."""
    found = (
        await session.exec(
            select(Payment.id)
            .join(Order, col(Order.payment_id) == col(Payment.id))
            .where(
                col(Order.esim_id) == esim_id,
                col(Order.kind) == PurchaseKind.NEW_ESIM,
                col(Payment.status) == PaymentStatus.REFUNDED,
            )
        )
    ).first()
    return found is not None
