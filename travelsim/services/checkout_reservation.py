"""Holding a checkout's eSIM: the reservation of one free eSIM of the pool for one checkout.

A new-eSIM checkout holds exactly one eSIM (``inventory.reserve``: compare-and-set, never SFT's
"first free SIM", docs/business-rules.md#esim-reservation) until ``reserved_until``: taken when
it opens (:func:`hold_for_start`, with one pool refill from SFT when none is free:
:func:`reserve_with_refill`), extended for the payment window (:func:`hold_esim`). Starts of one
traveler are serialised by a lock on the traveler's row (:func:`lock_traveler`), so two
concurrent starts of the same checkout never reserve two eSIMs for it. No eSIM left → the
checkout closes ``sold_out`` (:func:`close_sold_out`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Esim,
    InventoryState,
    PurchaseKind,
    User,
    utcnow,
)
from travelsim.services import checkout_guard, inventory
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError

__all__ = [
    "close_sold_out",
    "hold_esim",
    "hold_for_start",
    "hold_time",
    "lock_traveler",
    "reserve_with_refill",
]

log = logging.getLogger(__name__)

#: A start whose refill was debounced re-tries its reservation this many times, this many
#: seconds apart (the refill another start is running usually lands within a second).
DEBOUNCED_WAITS = 8
DEBOUNCED_WAIT_SECONDS = 0.25


def hold_time(minutes: int | None) -> timedelta:
    """How long a reservation is held: ``minutes``, default ``CHECKOUT_RESERVATION_MINUTES``."""
    return timedelta(
        minutes=minutes if minutes is not None else get_settings().checkout_reservation_minutes
    )


async def lock_traveler(session: AsyncSession, user_id: int) -> None:
    """Serialise checkout starts of one traveler until the caller's next commit.

    PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` of the traveler's ``app_user`` row (other
    travelers are not blocked; inserting rows that reference the user still works). SQLite:
    a no-op write on that row, which takes the database's single write lock (waiting up to
    ``busy_timeout``), so the reads that follow see every committed checkout.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(User.id).where(col(User.id) == user_id).with_for_update(key_share=True)
        )
    else:
        await session.execute(
            update(User)
            .where(col(User.id) == user_id)
            .values(is_staff=User.is_staff)
            .execution_options(synchronize_session=False)
        )


async def hold_for_start(session: AsyncSession, checkout: Checkout, until: datetime) -> bool:
    """Make sure ``checkout`` (traveler locked) holds exactly one eSIM until ``until``: keep
    or extend the one reserved for it, else reserve a free one. Returns False when no free
    eSIM is left. Does not commit."""
    held = (
        await session.exec(
            select(Esim)
            .where(col(Esim.checkout_id) == checkout.id, col(Esim.state) == InventoryState.RESERVED)
            .order_by(col(Esim.id))
            .execution_options(populate_existing=True)
        )
    ).first()
    if held is not None and held.id is not None:
        if not await inventory.extend(session, held.id, checkout.id, until):
            return False  # pragma: no cover - the traveler lock prevents this race
        esim_id = held.id
    else:
        esim = await inventory.reserve(session, checkout.id, until)
        if esim is None or esim.id is None:
            return False
        esim_id = esim.id
    checkout.esim_id = esim_id
    checkout.reserved_until = until
    session.add(checkout)
    return True


async def reserve_with_refill(
    session: AsyncSession,
    checkout: Checkout,
    until: datetime,
    now: datetime,
    client: SFTClient | None,
) -> Esim | None:
    """After a first reservation found no free eSIM: release expired reservations and retry;
    else refill once from SFT (at most one refill per ``POOL_REFILL_INTERVAL_SECONDS`` across
    workers: ``checkout_guard.refill_allowed``; a debounced start re-tries its reservation
    for up to ``DEBOUNCED_WAITS x DEBOUNCED_WAIT_SECONDS`` while the other refill lands) and
    retry. Commits after each step (no
    database lock is held across the SFT call); each retry re-locks the traveler, so two
    concurrent starts of the same checkout never reserve two eSIMs for it."""

    async def retry() -> Esim | None:
        await lock_traveler(session, checkout.user_id)
        held = await hold_for_start(session, checkout, until)
        await session.commit()
        return await session.get(Esim, checkout.esim_id) if held and checkout.esim_id else None

    if await inventory.release_expired(session, now):
        esim = await retry()
        if esim is not None:
            return esim
    if client is None:
        return None
    if not await checkout_guard.refill_allowed():
        # Another start refilled (or is refilling) within POOL_REFILL_INTERVAL_SECONDS: a
        # storm of "sold out" costs one fetchSIM listing
        # (docs/business-rules.md#refill-debounce). Wait a little for that refill's rows
        # instead of refilling again.
        log.info("inventory refill debounced; waiting for the running one")
        for _ in range(DEBOUNCED_WAITS):
            await asyncio.sleep(DEBOUNCED_WAIT_SECONDS)
            esim = await retry()
            if esim is not None:
                return esim
        return None
    try:
        await inventory.refill_pool(client, session)
    except SFTError as exc:
        log.warning("inventory refill failed: %s", type(exc).__name__)
        await session.rollback()
        return None
    return await retry()


async def hold_esim(session: AsyncSession, checkout: Checkout, until: datetime) -> bool:
    """Keep the checkout's reservation until ``until`` (aware UTC) or reserve another free
    eSIM. Returns False when none is left. Does not commit. Top-ups need none (True)."""
    if checkout.kind != PurchaseKind.NEW_ESIM:
        return True
    if checkout.esim_id is not None and await inventory.extend(
        session, checkout.esim_id, checkout.id, until
    ):
        checkout.reserved_until = until
        session.add(checkout)
        return True
    esim = await inventory.reserve(session, checkout.id, until)
    if esim is None:
        await inventory.release_expired(session, utcnow())
        esim = await inventory.reserve(session, checkout.id, until)
    if esim is None:
        return False
    checkout.esim_id = esim.id
    checkout.reserved_until = until
    session.add(checkout)
    return True


async def close_sold_out(session: AsyncSession, checkout: Checkout) -> None:
    """Close ``checkout`` as ``sold_out`` (no reservation left); commits."""
    checkout.status = CheckoutStatus.SOLD_OUT
    checkout.reserved_until = None
    checkout.updated_at = utcnow()
    session.add(checkout)
    await session.commit()
