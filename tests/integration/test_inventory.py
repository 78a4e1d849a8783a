"""The local eSIM pool: refill from the simulator, exclusive reservations, expiry."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    sft_clients,
    sim_factory,
)
from sqlmodel import select

from travelsim import db
from travelsim.models import Checkout, Esim, utcnow
from travelsim.services import checkout, inventory
from travelsim.settings import Settings
from travelsim.sft import SFTClient


async def all_esims() -> list[Esim]:
    async with db.session() as s:
        return list((await s.exec(select(Esim).order_by(Esim.id))).all())


async def test_refill_mirrors_free_stock_and_never_touches_known_rows(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=10)
    client = sft_clients(sim.url)
    # One eSIM is already Active on the platform: it is not free stock (simStatusId=12 only).
    sold_elsewhere = sim.api.first_free_endpoint()
    assert sim.api.activate(sold_elsewhere)["resultCode"] == "0"

    async with db.session() as s:
        # Small pages, bounded: 2 pages x 3 rows.
        assert await inventory.refill_pool(client, s, max_pages=2, per_page=3) == 6
        assert await inventory.refill_pool(client, s, per_page=3) == 3  # the rest
        assert await inventory.refill_pool(client, s) == 0  # idempotent
        assert await inventory.free_count(s) == 9
    rows = await all_esims()
    assert len(rows) == 9
    assert sold_elsewhere not in {r.endpoint_id for r in rows}
    assert len({r.iccid for r in rows}) == 9
    assert all(r.state == "free" and r.eid for r in rows)

    # Local states are the portal's: a refill never resets them.
    user = await add_user()
    async with db.session() as s:
        r0, r1, r2 = (await s.exec(select(Esim).order_by(Esim.id).limit(3))).all()
        r0.state, r0.checkout_id, r0.reserved_until = "reserved", "c-x", utcnow()
        r1.state, r1.user_id = "assigned", user.id
        r2.state = "retired"
        s.add_all([r0, r1, r2])
        await s.commit()
        assert await inventory.refill_pool(client, s) == 0
    states = [r.state for r in await all_esims()][:3]
    assert states == ["reserved", "assigned", "retired"]


async def test_reserve_is_exclusive_and_lowest_first(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    until = utcnow() + timedelta(minutes=15)
    async with db.session() as s:
        await inventory.refill_pool(client, s)
        ids = [e.id for e in await all_esims()]
        got = [await inventory.reserve(s, f"c{i}", until) for i in range(4)]
        await s.commit()
    assert [e.id if e else None for e in got] == [*ids, None]
    rows = await all_esims()
    assert [(r.state, r.checkout_id) for r in rows] == [
        ("reserved", "c0"),
        ("reserved", "c1"),
        ("reserved", "c2"),
    ]


@pytest.mark.parametrize("n_buyers", [20])
async def test_concurrent_checkouts_never_share_an_esim(
    any_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    n_buyers: int,
) -> None:
    """20 buyers race for 10 free eSIMs: exactly 10 reservations, each ICCID once, the
    others sold out (SFT's "first free SIM" is never used for exclusivity)."""
    sim = sim_factory(esims=10)
    client = sft_clients(sim.url)
    await add_plan()
    async with db.session() as s:
        assert await inventory.refill_pool(client, s) == 10
    users = [await add_user() for _ in range(n_buyers)]

    async def one(user_index: int) -> str:
        async with db.session() as s:
            try:
                c = await checkout.start_checkout(
                    s, user=users[user_index], plan_id="870101", destination="FR", client=client
                )
            except checkout.CheckoutError as exc:
                return exc.code
            return c.id

    results = await asyncio.gather(*(one(i) for i in range(n_buyers)))
    assert results.count("sold_out") == n_buyers - 10
    rows = await all_esims()
    reserved = [r for r in rows if r.state == "reserved"]
    assert len(reserved) == 10
    assert len({r.iccid for r in reserved}) == 10
    assert len({r.checkout_id for r in reserved}) == 10
    winners = {r for r in results if r != "sold_out"}
    assert {r.checkout_id for r in reserved} == winners
    async with db.session() as s:
        checkouts = (await s.exec(select(Checkout))).all()
    by_status: dict[str, int] = {}
    for c in checkouts:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    assert by_status == {"open": 10, "sold_out": n_buyers - 10}
    # Every open checkout points at the eSIM reserved for it.
    esim_of = {r.checkout_id: r.id for r in reserved}
    assert all(esim_of[c.id] == c.esim_id for c in checkouts if c.status == "open")


async def test_expired_reservations_return_to_the_pool(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=1)
    client = sft_clients(sim.url)
    await add_plan()
    first, second = await add_user(), await add_user()
    async with db.session() as s:
        c1 = await checkout.start_checkout(
            s, user=first, plan_id="870101", destination="FR", client=client, reservation_minutes=15
        )
    async with db.session() as s:
        with pytest.raises(checkout.CheckoutError) as exc:
            await checkout.start_checkout(s, user=second, plan_id="870101", destination="FR")
        assert exc.value.code == "sold_out"
        # Not yet expired: nothing released.
        assert await inventory.release_expired(s, utcnow() + timedelta(minutes=14)) == 0
        assert await inventory.release_expired(s, utcnow() + timedelta(minutes=16)) == 1
        assert await inventory.free_count(s) == 1
    (row,) = await all_esims()
    assert (row.state, row.checkout_id, row.reserved_until) == ("free", None, None)
    # The freed eSIM can now be reserved by somebody else.
    async with db.session() as s:
        c3 = await checkout.start_checkout(s, user=second, plan_id="870101", destination="FR")
    assert c3.esim_id == row.id
    assert c1.esim_id == row.id  # the first checkout lost its (expired) reservation


async def test_assigned_esims_are_never_released_or_reassigned(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=1)
    client = sft_clients(sim.url)
    user, other = await add_user(), await add_user()
    async with db.session() as s:
        await inventory.refill_pool(client, s)
        esim = await inventory.reserve(s, "c1", utcnow() - timedelta(minutes=1))
        assert esim is not None
        assigned = await inventory.assign(s, esim, user.id or 0, checkout_id="c1")
        await s.commit()
        assert (assigned.state, assigned.user_id) == ("assigned", user.id)
        assert await inventory.release_expired(s, utcnow()) == 0
        with pytest.raises(inventory.InventoryError):
            await inventory.assign(s, assigned, other.id or 0)
        await s.rollback()
        assert await inventory.reserve(s, "c2", utcnow() + timedelta(minutes=5)) is None
    (row,) = await all_esims()
    assert (row.state, row.user_id) == ("assigned", user.id)
