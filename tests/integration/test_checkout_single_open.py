"""One traveler and plan → one open checkout, even under concurrent "Continue" clicks.

A double click on "Continue to payment" used to open two checkouts, each holding an eSIM
until its reservation expired. The rule is enforced by ``checkout.start_checkout`` itself:
concurrent or repeated calls for the same traveler and plan return the same open checkout
and hold exactly one eSIM. Counts below are read back from the database, independently of
what ``start_checkout`` returned.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
from collections.abc import Callable

from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)
from sqlmodel import col, select

from travelsim import db
from travelsim.models import Checkout, Esim, User
from travelsim.services import checkout
from travelsim.settings import Settings
from travelsim.sft import SFTClient


async def start(
    user: User, client: SFTClient | None, *, destination: str = "FR", plan_id: str = PLAN_ID
) -> str:
    """What one click on "Continue to payment" does: one request, its own session."""
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=plan_id, destination=destination, client=client
        )
        return c.id


async def open_checkouts(user: User) -> list[Checkout]:
    async with db.session() as s:
        rows = await s.exec(
            select(Checkout).where(col(Checkout.user_id) == user.id, col(Checkout.status) == "open")
        )
        return list(rows.all())


async def reserved_esims() -> list[Esim]:
    async with db.session() as s:
        return list((await s.exec(select(Esim).where(col(Esim.state) == "reserved"))).all())


async def test_two_simultaneous_starts_give_one_checkout_and_one_esim(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()

    first, second = await asyncio.gather(start(user, client), start(user, client))

    assert first == second
    (only,) = await open_checkouts(user)
    assert only.id == first
    (esim,) = await reserved_esims()
    assert (esim.checkout_id, esim.id) == (first, only.esim_id)


async def test_many_simultaneous_starts_give_one_checkout(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=8)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()

    ids = await asyncio.gather(*(start(user, client) for _ in range(6)))

    assert len(set(ids)) == 1
    assert len(await open_checkouts(user)) == 1
    assert len(await reserved_esims()) == 1


async def test_second_click_after_the_first_reuses_the_checkout(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()

    first = await start(user, client)
    again = await start(user, client, destination="fr")

    assert again == first
    assert len(await open_checkouts(user)) == 1
    assert len(await reserved_esims()) == 1


async def test_other_traveler_gets_their_own_checkout(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan()
    alice, bob = await add_user(), await add_user()

    a, b = await asyncio.gather(start(alice, client), start(bob, client))

    assert a != b
    holders = {e.checkout_id for e in await reserved_esims()}
    assert holders == {a, b}


async def test_after_payment_a_new_purchase_opens_a_new_checkout(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()

    paid = await buy(user, client)
    assert paid.status == "paid"
    fresh = await start(user, client)

    assert fresh != paid.checkout_id
    (only,) = await open_checkouts(user)
    assert only.id == fresh


async def test_reused_checkout_takes_the_latest_destination_choice(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """The traveler went back and picked another country of a multi-country plan: the same
    checkout (and eSIM) follows the new choice instead of a second one being opened."""
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan(plan_id="870201", destinations=["FR", "ES", "IT"])
    user = await add_user()

    first = await start(user, client, plan_id="870201", destination="FR")
    second = await start(user, client, plan_id="870201", destination="ES")

    assert first == second
    (only,) = await open_checkouts(user)
    assert only.destination == "ES"
    assert len(await reserved_esims()) == 1


async def test_lapsed_reservation_of_the_open_checkout_is_taken_again(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """The open checkout's eSIM went back to the pool (reservation expired, released): the
    next click keeps the checkout and reserves an eSIM for it again, still only one."""
    sim = sim_factory(esims=5)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    first = await start(user, client)
    async with db.session() as s:
        (esim,) = (await s.exec(select(Esim).where(col(Esim.checkout_id) == first))).all()
        esim.state, esim.checkout_id, esim.reserved_until = "free", None, None
        s.add(esim)
        await s.commit()
    assert await reserved_esims() == []

    again = await start(user, client)

    assert again == first
    (held,) = await reserved_esims()
    assert held.checkout_id == first
