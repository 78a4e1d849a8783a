"""The rules that keep a checkout honest between opening it and charging it.

* **Expiry** (docs/business-rules.md#checkout-expiry): an ``open`` checkout can be paid for
  ``CHECKOUT_TTL_MINUTES`` after it opened. Past that it is ``expired``: it can no longer be
  paid and its reserved eSIM goes back to the pool. Expiry happens lazily whenever the
  checkout is touched (page, payment, the traveler's next start: :func:`expire_if_stale`) and
  in bulk by the recovery job (:func:`expire_stale`). A checkout with a charge under way
  (payment ``processing``, ``requires_action`` or ``succeeded``) or an order never expires
  here: that charge decides.
* **Re-checks at the moment a charge is created** (docs/business-rules.md#charge-re-checks):
  :func:`recheck_for_charge` (plan still on sale with a price, the destination still
  covered, the price unchanged, the top-up rules for a top-up). One function, called by
  ``checkout_payment.pay`` before a payment row is claimed, for any card processor.
* **Start limits** (docs/business-rules.md#checkout-limits): :func:`check_start_rate` (starts
  per traveler and per client address, ``rate_limits``) and :func:`check_open_limit` (at most
  ``MAX_OPEN_CHECKOUTS`` open checkouts per traveler, counted under the traveler's row lock,
  so two parallel starts cannot both pass).
* **Refill debounce** (docs/business-rules.md#refill-debounce): :func:`refill_allowed`, at
  most one pool refill from SFT per ``POOL_REFILL_INTERVAL_SECONDS`` across workers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.formatting import format_money
from travelsim.i18n import N_, _
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
)
from travelsim.services import catalogue, ownership, rate_limits, topup
from travelsim.services.checkout_errors import CheckoutError
from travelsim.settings import get_settings

__all__ = [
    "BUSY_PAYMENTS",
    "check_open_limit",
    "check_start_rate",
    "check_topup",
    "checked_destination",
    "expire_if_stale",
    "expire_stale",
    "expires_at",
    "recheck_for_charge",
    "refill_allowed",
    "sellable_plan",
]

log = logging.getLogger(__name__)

#: Payments that mean a charge is under way or done: the checkout keeps its price and
#: never expires under them.
BUSY_PAYMENTS = (
    PaymentStatus.PROCESSING,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.SUCCEEDED,
)


# --- expiry ----------------------------------------------------------------------------------
def expires_at(checkout: Checkout) -> datetime:
    """When ``checkout`` stops being payable (aware UTC): its ``created_at`` plus
    ``CHECKOUT_TTL_MINUTES``."""
    return checkout.created_at + timedelta(minutes=get_settings().checkout_ttl_minutes)


async def _charge_under_way(session: AsyncSession, checkout_id: str) -> bool:
    """True when the checkout has a busy payment (:data:`BUSY_PAYMENTS`) or an order."""
    busy = await session.execute(
        select(func.count())
        .select_from(Payment)
        .where(col(Payment.checkout_id) == checkout_id, col(Payment.status).in_(BUSY_PAYMENTS))
    )
    if int(busy.scalar_one()):
        return True
    order = await session.execute(select(Order.id).where(col(Order.checkout_id) == checkout_id))
    return order.first() is not None


async def expire_if_stale(session: AsyncSession, checkout: Checkout, now: datetime) -> bool:
    """Expire ``checkout`` if it is ``open``, older than the TTL (``now``: aware UTC) and has
    no charge under way: status ``expired``, its reserved eSIM back to ``free``. Returns
    True when it was expired now. Does not commit."""
    if checkout.status != CheckoutStatus.OPEN or now < expires_at(checkout):
        return False
    if await _charge_under_way(session, checkout.id):
        return False
    await session.execute(
        update(Esim)
        .where(col(Esim.checkout_id) == checkout.id, col(Esim.state) == InventoryState.RESERVED)
        .values(state=InventoryState.FREE, checkout_id=None, reserved_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    checkout.status = CheckoutStatus.EXPIRED
    checkout.reserved_until = None
    checkout.updated_at = now
    session.add(checkout)
    log.info("checkout expired", extra={"checkout_id": checkout.id})
    return True


async def expire_stale(session: AsyncSession, now: datetime, *, user_id: int | None = None) -> int:
    """Expire every open checkout older than the TTL at ``now`` (aware UTC), of ``user_id``
    only when given (:func:`expire_if_stale` each). Returns how many were expired. Does not
    commit."""
    cutoff = now - timedelta(minutes=get_settings().checkout_ttl_minutes)
    query = (
        select(Checkout)
        .where(col(Checkout.status) == CheckoutStatus.OPEN, col(Checkout.created_at) <= cutoff)
        .order_by(col(Checkout.created_at))
        .execution_options(populate_existing=True)
    )
    if user_id is not None:
        query = query.where(col(Checkout.user_id) == user_id)
    expired = 0
    for checkout in (await session.exec(query)).all():
        expired += await expire_if_stale(session, checkout, now)
    return expired


# --- what may be sold ------------------------------------------------------------------------
async def sellable_plan(session: AsyncSession, plan_id: str) -> Plan:
    """The plan on sale with a price (freshly read), else CheckoutError ``unknown_plan``."""
    plan = await session.get(Plan, plan_id, populate_existing=True)
    if plan is None or not plan.sellable or plan.price_minor is None or plan.currency is None:
        raise CheckoutError("unknown_plan")
    return plan


def checked_destination(plan: Plan, destination: str | None) -> str | None:
    """The destination code, upper case, when the plan covers it (``None`` when not asked);
    else CheckoutError ``bad_destination``."""
    dest = destination.strip().upper() if destination else None
    if dest is not None and dest not in plan.destinations:
        raise CheckoutError("bad_destination")
    return dest


async def check_topup(
    session: AsyncSession, user_id: int, plan: Plan, esim_id: int | None, now: datetime
) -> None:
    """Refuse a top-up before any payment: not the traveler's eSIM (``not_found``), or a
    top-up rule says no (``topup.check_topup_allowed``: 15 live add-ons, suspended by staff,
    no SIM), on the stored endpoint status and add-ons."""
    target = await ownership.owned_esim(session, user_id, esim_id)
    if target is None or target.id is None:
        raise CheckoutError("not_found")
    offer = await topup.topup_offer(
        session, user_id=user_id, esim_id=target.id, plan_id=plan.plan_id, now=now
    )
    if offer is not None and not offer.decision.allowed:
        raise CheckoutError(
            offer.decision.refusal or "topup_refused",
            offer.decision.message or N_("This eSIM cannot take another plan right now."),
        )


async def recheck_for_charge(
    session: AsyncSession, checkout: Checkout, now: datetime, *, price: bool = True
) -> Plan:
    """Everything that must still hold at the moment a charge is created for ``checkout``
    (``now``: aware UTC); returns the plan as stored now. Nothing is written.

    Raises CheckoutError: ``expired`` (older than the TTL), ``unknown_plan`` (off sale or no
    price), ``bad_destination`` (the plan no longer covers the checkout's destination),
    ``price_changed`` (``price=True``: the plan's price in the checkout's currency,
    ``catalogue.price_for``, is not the checkout's amount, or the plan no longer has a price
    in that currency; the message names both, e.g. "from €9.90 to €12.00"; the checkout
    keeps its amount until the traveler re-confirms, ``checkout.reconfirm_price``;
    docs/i18n.md#currencies), ``not_found`` or a top-up refusal
    (``check_topup``) for a top-up."""
    if now >= expires_at(checkout):
        raise CheckoutError("expired")
    plan = await sellable_plan(session, checkout.plan_id)
    checked_destination(plan, checkout.destination)
    today = await catalogue.price_for(session, plan, checkout.currency) if price else None
    if today is not None and today != (checkout.amount_minor, checkout.currency):
        was = format_money(checkout.amount_minor, checkout.currency)
        is_now = format_money(*today)
        raise CheckoutError(
            "price_changed",
            _("The price changed from {was} to {now}. Please review it and pay again.").format(
                was=was, now=is_now
            ),
        )
    if checkout.kind == PurchaseKind.TOPUP:
        await check_topup(session, checkout.user_id, plan, checkout.esim_id, now)
    return plan


# --- start limits ----------------------------------------------------------------------------
async def check_start_rate(user_id: int, client_ip: str | None) -> None:
    """Count one checkout start for the traveler and, when known, the client address
    (``CHECKOUT_START_RATE_PER_TRAVELER`` / ``_PER_ADDRESS``, atomic across workers:
    ``rate_limits.hit``). Raises CheckoutError ``rate_limited`` when either window is full."""
    settings = get_settings()
    per_traveler = rate_limits.Limit(
        "checkout_start_user", settings.checkout_start_rate_per_traveler
    )
    if not await rate_limits.hit(per_traveler, str(user_id)):
        raise CheckoutError("rate_limited")
    if client_ip:
        per_address = rate_limits.Limit(
            "checkout_start_ip", settings.checkout_start_rate_per_address
        )
        if not await rate_limits.hit(per_address, client_ip):
            raise CheckoutError("rate_limited")


async def check_open_limit(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Before a NEW checkout of ``user_id`` (call with the traveler's row locked,
    ``checkout_reservation.lock_traveler``, so the count and the insert that follows are one
    step): expire the traveler's stale checkouts, then refuse with CheckoutError
    ``too_many_open`` when ``MAX_OPEN_CHECKOUTS`` are still open. Does not commit."""
    await expire_stale(session, now, user_id=user_id)
    limit = get_settings().max_open_checkouts
    count = await session.execute(
        select(func.count())
        .select_from(Checkout)
        .where(col(Checkout.user_id) == user_id, col(Checkout.status) == CheckoutStatus.OPEN)
    )
    if int(count.scalar_one()) >= limit:
        raise CheckoutError(
            "too_many_open",
            _(
                "You already have {limit} checkouts waiting for payment. Pay one of them or let "
                "it expire ({minutes} minutes) before starting another."
            ).format(limit=limit, minutes=get_settings().checkout_ttl_minutes),
        )


async def refill_allowed() -> bool:
    """True for at most one caller per ``POOL_REFILL_INTERVAL_SECONDS`` across workers
    (``rate_limits``: Redis when configured): the one that may refill the pool from SFT."""
    interval = get_settings().pool_refill_interval_seconds
    return await rate_limits.hit(rate_limits.Limit("pool_refill", f"1/{interval} seconds"), "sft")
