"""Saved cards over a real localstripe (HTTP) and real databases: kept at payment, listed,
removed here and at Stripe, refused for another traveler, never kept when declined; the data
export lists them (brand, last 4) and account deletion removes them at Stripe
(``services.saved_cards``, ``services.privacy``; docs/payments.md#saved-cards)."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    sft_clients,
    sim_factory,
)
from sqlmodel import select

from tests.stripe_support import CARD_DECLINED, CARD_OK, RunningLocalStripe
from travelsim import db
from travelsim.models import Order, OrderStatus, SavedCard, User
from travelsim.services import checkout, checkout_payment, consent, saved_cards
from travelsim.services.payments import PaymentProvider, get_provider
from travelsim.services.privacy.deletion import delete_account
from travelsim.services.privacy.export import export_user_data
from travelsim.settings import Settings
from travelsim.sft import SFTClient


@pytest.fixture
async def client(
    localstripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> SFTClient:
    sim = sim_factory(esims=5)
    await add_plan()
    return sft_clients(sim.url)


async def buy(
    ls: RunningLocalStripe, client: SFTClient, user: User, card: str, *, keep: bool
) -> checkout_payment.PayOutcome:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id="870101", destination="FR", client=client
        )
    async with db.session() as s:
        return await checkout_payment.pay(
            s,
            get_provider(),
            checkout_id=c.id,
            user=user,
            card=checkout_payment.NewCard(ls.card_token(card)),
            device_confirmed=True,
            keep_card=keep,
            start_provisioning=None,
            acceptance=consent.Acceptance.given_now(),
        )


async def customer_of(user: User) -> str | None:
    async with db.session() as s:
        fresh = await s.get(User, user.id)
        assert fresh is not None
        return fresh.stripe_customer_id


def cards_at_stripe(ls: RunningLocalStripe, customer: str) -> list[dict[str, Any]]:
    """The Customer's cards as localstripe lists them."""
    listed = ls.client().v1.customers.payment_sources.list(customer, params={"object": "card"})
    return [dict(c.to_dict()) for c in listed.data]


async def listed(user_id: int) -> list[saved_cards.CardRow]:
    async with db.session() as s:
        return await saved_cards.list_cards(s, user_id)


async def remove(provider: PaymentProvider, user_id: int, card_id: int) -> bool:
    async with db.session() as s:
        return await saved_cards.remove_card(s, provider, user_id, card_id)


async def test_kept_card_is_listed_and_removed_here_and_at_stripe(
    any_db: Settings, localstripe: RunningLocalStripe, client: SFTClient
) -> None:
    user = await add_user()
    assert user.id is not None
    assert (await buy(localstripe, client, user, CARD_OK, keep=True)).status == "paid"
    (card,) = await listed(user.id)
    assert (card.brand, card.last4, card.label) == ("Visa", "4242", "Visa •••• 4242")
    customer = await customer_of(user)
    assert customer is not None
    (row,) = [r for r in await rows(SavedCard)]
    assert [c["id"] for c in cards_at_stripe(localstripe, customer)] == [row.provider_ref]

    # Another traveler cannot remove it (nor learn it exists: the answer is just False).
    other = await add_user()
    assert other.id is not None
    assert await remove(get_provider(), other.id, card.id) is False
    assert await listed(user.id) == [card]
    assert len(cards_at_stripe(localstripe, customer)) == 1

    assert await remove(get_provider(), user.id, card.id) is True
    assert await listed(user.id) == []
    assert cards_at_stripe(localstripe, customer) == []
    assert await remove(get_provider(), user.id, card.id) is False  # already gone


async def test_declined_card_is_never_kept(
    any_db: Settings, localstripe: RunningLocalStripe, client: SFTClient
) -> None:
    user = await add_user()
    assert user.id is not None
    outcome = await buy(localstripe, client, user, CARD_DECLINED, keep=True)
    assert outcome.status == "declined", outcome
    assert await listed(user.id) == [] and await rows(SavedCard) == []
    customer = await customer_of(user)
    if customer is not None:  # made before the card was refused
        assert cards_at_stripe(localstripe, customer) == []


async def test_export_lists_saved_cards_and_deletion_removes_them_at_stripe(
    sqlite_db: Settings, localstripe: RunningLocalStripe, client: SFTClient
) -> None:
    user = await add_user()
    assert user.id is not None
    assert (await buy(localstripe, client, user, CARD_OK, keep=True)).status == "paid"
    customer = await customer_of(user)
    assert customer is not None and len(cards_at_stripe(localstripe, customer)) == 1
    async with db.session() as s:
        fresh = await s.get(User, user.id)
        assert fresh is not None
        data = await export_user_data(s, fresh)
    (exported,) = data["saved_cards"]
    assert (exported["brand"], exported["last4"]) == ("Visa", "4242")
    (row,) = await rows(SavedCard)
    assert row.provider_ref not in str(data) and customer not in str(data)  # no Stripe ids

    # The order is still only paid (in flight), which blocks deletion: say it was delivered.
    async with db.session() as s:
        for order in (await s.exec(select(Order))).all():
            order.status = OrderStatus.DELIVERED
            s.add(order)
        await s.commit()
    await delete_account(user.id, client, get_provider())
    assert await rows(SavedCard) == []
    assert cards_at_stripe(localstripe, customer) == []
    assert await customer_of(user) is None


async def rows(model: type) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model))).all())
