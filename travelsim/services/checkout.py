"""Checkout: open (or reuse) one purchase attempt, and show it to its owner.

A :class:`~travelsim.models.Checkout` is one purchase attempt; its id is the idempotency key of
everything after it (docs/business-rules.md#one-payment-per-checkout): one checkout → at most one
successful payment → at most one order. This module opens it and answers "is it this
traveler's"; its eSIM reservation is :mod:`travelsim.services.checkout_reservation`, paying it
:mod:`travelsim.services.checkout_payment`, the order of a paid checkout
:mod:`travelsim.services.order_creation`.

1. :func:`start_checkout` checks the plan is sellable and reserves a free eSIM in the portal
   database (docs/business-rules.md#esim-reservation). No free eSIM, even after one refill from
   SFT → checkout ``sold_out`` and ``CheckoutError("sold_out")`` before any charge. One traveler
   and plan have at most one ``open`` checkout: a second start (double click, second tab, going
   back) returns the open one and keeps its single eSIM reservation; concurrent starts of one
   traveler are serialised by a lock on the traveler's row (``checkout_reservation.
   lock_traveler``); an unpaid open checkout at an old price is cancelled
   (docs/business-rules.md#one-open-checkout).
2. :func:`checkout_page` says what ``/buy/<plan>?checkout=<id>`` shows: the card form, the
   verification-code step, the order once paid, or why the checkout cannot be paid.

Nothing here calls SFT except the pool refill.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Esim,
    InventoryState,
    Order,
    Payment,
    PaymentStatus,
    Plan,
    PurchaseKind,
    User,
    utcnow,
)
from travelsim.services import catalogue, ownership
from travelsim.services.checkout_errors import CHECKOUT_MESSAGES, CheckoutError
from travelsim.services.checkout_guard import (
    BUSY_PAYMENTS,
    check_open_limit,
    check_start_rate,
    check_topup,
    checked_destination,
    expire_if_stale,
    recheck_for_charge,
    sellable_plan,
)
from travelsim.services.checkout_reservation import (
    close_sold_out,
    hold_for_start,
    hold_time,
    lock_traveler,
    reserve_with_refill,
)
from travelsim.sft.client import SFTClient

__all__ = [
    "CHECKOUT_MESSAGES",
    "CheckoutError",
    "CheckoutPage",
    "checkout_page",
    "order_for_checkout",
    "owned_checkout",
    "payments_for",
    "pending_action",
    "reconfirm_price",
    "start_checkout",
    "user_id_of",
]

log = logging.getLogger(__name__)

#: Payments that keep an open checkout at the price the traveler saw (a charge under way).
_BUSY_PAYMENTS = BUSY_PAYMENTS


def user_id_of(user: User) -> int:
    """``user.id``; raises ``ValueError`` for a User row that was never saved."""
    if user.id is None:
        raise ValueError("user must be a saved User row")
    return user.id


# --- start -----------------------------------------------------------------------------------
async def start_checkout(
    session: AsyncSession,
    *,
    user: User,
    plan_id: str,
    destination: str | None,
    kind: PurchaseKind = PurchaseKind.NEW_ESIM,
    esim_id: int | None = None,
    reservation_minutes: int | None = None,
    client: SFTClient | None = None,
    device_confirmed: bool = False,
    client_ip: str | None = None,
    currency: str | None = None,
    now: datetime | None = None,
) -> Checkout:
    """Open a checkout for ``plan_id`` and, for a new eSIM, reserve one; commits.

    Args:
        user: the signed-in traveler (from the server-side session, never from the browser).
        plan_id: SFT ``planId`` of a sellable plan (``Plan.sellable``).
        destination: ISO 3166-1 alpha-2 code the traveler chose; must be one of the plan's
            destinations (``None`` when not asked).
        kind: ``new_esim`` (reserve a free eSIM) or ``topup`` (``esim_id`` of one of the
            user's eSIMs; no reservation).
        reservation_minutes: hold time of the reservation (default
            ``CHECKOUT_RESERVATION_MINUTES``).
        client: SFT client used to refill the pool once when no free eSIM is left
            (docs/business-rules.md#esim-reservation); without it no refill is tried.
        device_confirmed: the traveler already confirmed destination and device (eSIM-capable,
            carrier-unlocked) on this page; stored, and then ``checkout_payment.pay`` accepts
            it.
        client_ip: the client address (``self.router.session.client_ip`` in a handler),
            counted by the per-address start limit; ``None`` counts the traveler only.
        currency: the traveler's currency (ISO 4217): the amount is the plan's price in it,
            else its base price (``catalogue.price_for``); ``None``: the base price.
        now: current aware UTC time (tests).

    Returns the ``open`` checkout (``esim_id`` = reserved or topped-up eSIM,
    ``reserved_until`` set for new eSIMs). When the traveler already has an open checkout of
    this plan (for a top-up: of this plan on this eSIM) at today's price in this currency,
    that checkout is returned instead of a new one: its destination and device confirmation
    are updated and its one reservation kept or taken again until ``now +
    reservation_minutes``. Safe under concurrency (SQLite and PostgreSQL): simultaneous calls
    yield one checkout, one eSIM.

    A NEW checkout is refused when the traveler already has ``MAX_OPEN_CHECKOUTS`` open ones
    (counted under the traveler's row lock: parallel starts cannot both pass), and every start
    counts against the per-traveler and per-address start rates
    (docs/business-rules.md#checkout-limits).

    Raises CheckoutError: ``rate_limited``, ``unknown_plan``, ``bad_destination``,
    ``not_found`` (top-up of an eSIM the user does not own), a top-up refusal (15 live
    add-ons, suspended by staff...), ``too_many_open``, ``sold_out`` (the checkout row is kept
    with status ``sold_out``; nothing was charged)."""
    user_id = user_id_of(user)
    now = now or utcnow()
    await check_start_rate(user_id, client_ip)
    plan = await sellable_plan(session, plan_id)
    dest = checked_destination(plan, destination)
    if kind not in (PurchaseKind.NEW_ESIM, PurchaseKind.TOPUP):
        raise ValueError("kind must be 'new_esim' or 'topup'")
    if kind == PurchaseKind.TOPUP:
        await check_topup(session, user_id, plan, esim_id, now)
    until = now + hold_time(reservation_minutes)
    price = await catalogue.price_for(session, plan, currency)
    # One traveler and plan → one open checkout: a double click (or a second tab) reuses the
    # open checkout and its eSIM instead of reserving another one
    # (docs/business-rules.md#one-open-checkout).
    await lock_traveler(session, user_id)
    checkout = await _reusable_checkout(session, user_id, plan, price, kind, esim_id, now)
    if checkout is not None:
        checkout.destination = dest or checkout.destination
        checkout.device_confirmed = checkout.device_confirmed or device_confirmed
        checkout.updated_at = now
        session.add(checkout)
        if kind == PurchaseKind.TOPUP or await hold_for_start(session, checkout, until):
            await session.commit()
            log.info("checkout reused", extra={"checkout_id": checkout.id})
            return checkout
        await session.commit()
    else:
        try:
            await check_open_limit(session, user_id, now)
        except CheckoutError:
            await session.commit()  # keeps the expiries, releases the traveler lock
            raise
        checkout = _new_checkout(
            user_id, plan, price, kind, esim_id, dest, device_confirmed, until, now
        )
        session.add(checkout)
        # Fast path: reserve a free eSIM and insert the checkout in ONE transaction.
        if kind == PurchaseKind.TOPUP or await hold_for_start(session, checkout, until):
            await session.commit()
            return checkout
        await session.commit()
    if await reserve_with_refill(session, checkout, until, now, client) is None:
        await close_sold_out(session, checkout)
        log.info("checkout sold out", extra={"checkout_id": checkout.id})
        raise CheckoutError("sold_out")
    return checkout


def _new_checkout(
    user_id: int,
    plan: Plan,
    price: tuple[int, str],
    kind: str,
    esim_id: int | None,
    destination: str | None,
    device_confirmed: bool,
    until: datetime,
    now: datetime,
) -> Checkout:
    """A new ``open`` checkout at ``price`` (minor units, currency: the plan's price in the
    traveler's currency); a top-up names its eSIM and holds none."""
    return Checkout(
        id=str(uuid.uuid4()),
        user_id=user_id,
        plan_id=plan.plan_id,
        kind=kind,
        esim_id=esim_id if kind == PurchaseKind.TOPUP else None,
        destination=destination,
        amount_minor=price[0],
        currency=price[1],
        status=CheckoutStatus.OPEN,
        device_confirmed=device_confirmed,
        reserved_until=until if kind == PurchaseKind.NEW_ESIM else None,
        created_at=now,
        updated_at=now,
    )


async def _reusable_checkout(
    session: AsyncSession,
    user_id: int,
    plan: Plan,
    price: tuple[int, str],
    kind: str,
    esim_id: int | None,
    now: datetime,
) -> Checkout | None:
    """The traveler's open checkout of ``plan`` (same topped-up eSIM for a top-up), if any.

    Call with the traveler locked (:func:`lock_traveler`). An open checkout whose amount and
    currency are not ``price`` (the plan's price in the traveler's currency now: the price
    moved, or the traveler chose another currency) and that has no payment under way is
    cancelled (its eSIM goes back to the pool) so the traveler pays today's price in their
    currency: ``None`` is returned then (docs/business-rules.md#one-open-checkout). One with
    a payment under way is kept at its price and currency: that charge decides."""
    query = (
        select(Checkout)
        .where(
            col(Checkout.user_id) == user_id,
            col(Checkout.plan_id) == plan.plan_id,
            col(Checkout.kind) == kind,
            col(Checkout.status) == CheckoutStatus.OPEN,
        )
        .order_by(col(Checkout.created_at).desc())
        .execution_options(populate_existing=True)
    )
    if kind == PurchaseKind.TOPUP:
        query = query.where(col(Checkout.esim_id) == esim_id)
    for existing in (await session.exec(query)).all():
        if await expire_if_stale(session, existing, now):
            continue  # older than the TTL: a new checkout is opened instead
        if (existing.amount_minor, existing.currency) == price:
            return existing
        busy = [p for p in await payments_for(session, existing.id) if p.status in _BUSY_PAYMENTS]
        if busy or await order_for_checkout(session, existing.id) is not None:
            return existing  # mid-payment at the price the traveler saw: keep it
        await session.execute(
            update(Esim)
            .where(col(Esim.checkout_id) == existing.id, col(Esim.state) == InventoryState.RESERVED)
            .values(
                state=InventoryState.FREE, checkout_id=None, reserved_until=None, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
        existing.status = CheckoutStatus.CANCELLED
        existing.reserved_until = None
        existing.updated_at = now
        session.add(existing)
    return None


# --- the checkout's rows ---------------------------------------------------------------------
async def owned_checkout(session: AsyncSession, checkout_id: str, user_id: int) -> Checkout:
    """The checkout ``checkout_id`` freshly read, if it is ``user_id``'s; else CheckoutError
    ``not_found`` (also for another traveler's: answer 404)."""
    checkout = (
        await session.exec(
            select(Checkout)
            .where(col(Checkout.id) == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if checkout is None or checkout.user_id != user_id:
        raise CheckoutError("not_found")
    return checkout


async def owned_checkout_and_order(
    session: AsyncSession, checkout_id: str, user_id: int
) -> tuple[Checkout, Order | None]:
    """:func:`owned_checkout` and :func:`order_for_checkout` in one query (both rows freshly
    read; an order is unique per checkout). Raises CheckoutError ``not_found`` as
    :func:`owned_checkout` does."""
    row = (
        await session.exec(
            select(Checkout, Order)
            .outerjoin(Order, col(Order.checkout_id) == col(Checkout.id))
            .where(col(Checkout.id) == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None or row[0].user_id != user_id:
        raise CheckoutError("not_found")
    return row[0], row[1]


async def order_for_checkout(session: AsyncSession, checkout_id: str) -> Order | None:
    """The order created from ``checkout_id``, if any (freshly read). No ownership check: the
    caller has already checked ``checkout.user_id`` against the signed-in user."""
    return (
        await session.exec(
            select(Order)
            .where(col(Order.checkout_id) == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def payments_for(session: AsyncSession, checkout_id: str) -> list[Payment]:
    """The checkout's payments, oldest first (freshly read). No ownership check."""
    return list(
        (
            await session.exec(
                select(Payment)
                .where(col(Payment.checkout_id) == checkout_id)
                .order_by(col(Payment.id))
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def pending_action(session: AsyncSession, checkout_id: str) -> bool:
    """True when the checkout has a payment waiting for its second step (ask for the code).
    No ownership check (as :func:`order_for_checkout`)."""
    return any(
        p.status == PaymentStatus.REQUIRES_ACTION for p in await payments_for(session, checkout_id)
    )


# --- the checkout page -----------------------------------------------------------------------
@dataclass(frozen=True)
class CheckoutPage:
    """What ``/buy/<plan>?checkout=<id>`` shows for the checkout in its URL (:func:`checkout_page`).

    Attributes:
        found: False when the traveler has no such checkout of this plan (also another
            traveler's, or a top-up of an eSIM that is no longer theirs): "not found".
        order_id: the order of a paid checkout (the page goes there), else ``None``.
        target: the eSIM a top-up checkout adds data to; ``None`` for a new eSIM.
        open: the checkout can still be paid; then ``step`` is ``pay`` (the card form) or
            ``action`` (a payment waits for 3-D Secure in the browser), ``checkout_id`` its id
            and ``destination`` the ISO code chosen (``None`` if none); ``amount_minor`` and
            ``currency`` what it charges (minor units, ISO 4217).
        closed_status: the checkout's status when it is neither open nor paid (``expired``,
            ``sold_out``, ``cancelled``), else ``None``.
    """

    found: bool
    order_id: str | None = None
    target: Esim | None = None
    open: bool = False
    step: Literal["pay", "action"] = "pay"
    checkout_id: str = ""
    destination: str | None = None
    amount_minor: int = 0
    currency: str = ""
    closed_status: str | None = None


async def checkout_page(
    session: AsyncSession, *, checkout_id: str, user_id: int, plan_id: str
) -> CheckoutPage:
    """Read the checkout ``checkout_id`` of ``plan_id`` for its owner ``user_id`` and say what
    its page shows (:class:`CheckoutPage`). No platform call; an open checkout older than
    the TTL is expired here (committed) and shows as ``expired``."""
    checkout = await session.get(Checkout, checkout_id, populate_existing=True)
    if checkout is None or checkout.user_id != user_id or checkout.plan_id != plan_id:
        return CheckoutPage(found=False)
    order = await order_for_checkout(session, checkout.id)
    if order is not None:
        return CheckoutPage(found=True, order_id=order.id)
    target = None
    if checkout.kind == PurchaseKind.TOPUP:
        target = await ownership.owned_esim(session, user_id, checkout.esim_id)
        if target is None:
            return CheckoutPage(found=False)
    if await expire_if_stale(session, checkout, utcnow()):
        await session.commit()
    if checkout.status != CheckoutStatus.OPEN:
        return CheckoutPage(found=True, target=target, closed_status=checkout.status)
    return CheckoutPage(
        found=True,
        target=target,
        open=True,
        step="action" if await pending_action(session, checkout.id) else "pay",
        checkout_id=checkout.id,
        destination=checkout.destination,
        amount_minor=checkout.amount_minor,
        currency=checkout.currency,
    )


async def reconfirm_price(session: AsyncSession, *, checkout_id: str, user: User) -> Checkout:
    """The traveler explicitly accepted today's price after ``price_changed``: set the open
    checkout's amount to the plan's price in the checkout's currency (``catalogue.price_for``:
    the base price, and its currency, when the plan no longer has one in it); commits. Every
    other charge re-check still applies (``checkout_guard.recheck_for_charge``: raises
    ``expired``, ``unknown_plan``, ``bad_destination``, a top-up refusal). Raises
    CheckoutError ``not_found`` (not the traveler's), ``checkout_closed`` (not open, or a
    charge already under way at the old price: that charge decides)."""
    checkout = await owned_checkout(session, checkout_id, user_id_of(user))
    now = utcnow()
    if await expire_if_stale(session, checkout, now):
        await session.commit()
        raise CheckoutError("expired")
    if checkout.status != CheckoutStatus.OPEN:
        raise CheckoutError("checkout_closed")
    if any(p.status in _BUSY_PAYMENTS for p in await payments_for(session, checkout.id)):
        raise CheckoutError("checkout_closed")
    plan = await recheck_for_charge(session, checkout, now, price=False)
    amount, currency = await catalogue.price_for(session, plan, checkout.currency)
    log.info(
        "checkout price re-confirmed",
        extra={
            "checkout_id": checkout.id,
            "from": f"{checkout.amount_minor} {checkout.currency}",
            "to": f"{amount} {currency}",
        },
    )
    checkout.amount_minor, checkout.currency = amount, currency
    checkout.updated_at = now
    session.add(checkout)
    await session.commit()
    return checkout
