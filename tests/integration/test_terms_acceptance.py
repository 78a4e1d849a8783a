"""Acceptance of the terms and the immediate-start request at checkout
(docs/legal.md#acceptance-at-checkout): no payment without both, through the service and
through a forged state event; both recorded on the checkout and copied onto the order with
the current terms version and the UTC times; an automatic top-up rule records it when
turned on."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    card_token,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_intents,
)
from sqlmodel import col, select

from tests.state_tabs import call, tab
from travelsim import db, i18n
from travelsim.models import Checkout, Order, Payment, User, utcnow
from travelsim.services import checkout, consent, content
from travelsim.services.auth import sessions
from travelsim.services.checkout_errors import CheckoutError
from travelsim.settings import Settings
from travelsim.sft import SFTClient
from travelsim.state.buy import BuyState
from travelsim.state.buy_consent import BuyConsentState


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=5)
    await add_plan()
    return sft_clients(sim.url)


async def open_checkout(user: User, client: SFTClient) -> str:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=PLAN_ID, destination="FR", client=client
        )
        return c.id


async def payments_of(checkout_id: str) -> list[Payment]:
    async with db.session() as s:
        rows = await s.exec(select(Payment).where(col(Payment.checkout_id) == checkout_id))
        return list(rows.all())


async def row(model: type[Checkout] | type[Order], key: str) -> Checkout | Order:
    async with db.session() as s:
        found = await s.get(model, key, populate_existing=True)
        assert found is not None
        return found


def shipped_terms_version(locale: str = "en") -> str:
    """The version line of the shipped terms file, read here independently of the service."""
    text = (content.SHIPPED_DIR / locale / "terms.md").read_text(encoding="utf-8")
    (line,) = [x for x in text.splitlines()[:5] if x.startswith("version:")]
    return line.split(":", 1)[1].strip()


async def test_payment_refused_without_acceptance_nothing_charged(
    any_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    with pytest.raises(CheckoutError) as refused:
        await pay_checkout(user, checkout_id, accept_terms=False)
    assert refused.value.code == "accept_terms"
    assert await payments_of(checkout_id) == []
    assert stripe_intents({checkout_id}) == []

    # One box is not enough, neither is it.
    async with db.session() as s:
        await consent.record(s, checkout_id=checkout_id, user=user, terms=True)
    with pytest.raises(CheckoutError) as only_terms:
        await pay_checkout(user, checkout_id, accept_terms=False)
    assert only_terms.value.code == "accept_terms"
    async with db.session() as s:
        await consent.record(
            s, checkout_id=checkout_id, user=user, terms=False, immediate_start=True
        )
    with pytest.raises(CheckoutError):
        await pay_checkout(user, checkout_id, accept_terms=False)
    assert await payments_of(checkout_id) == []


async def test_terms_no_longer_current_are_refused(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    old = consent.Acceptance("2020-01-01", consent.WITHDRAWAL_VERSION, utcnow())
    with pytest.raises(CheckoutError) as refused:
        await pay_checkout(user, checkout_id, accept_terms=False, acceptance=old)
    assert refused.value.code == "accept_terms"
    wording = consent.Acceptance(shipped_terms_version(), "crd-1999", utcnow())
    with pytest.raises(CheckoutError):
        await pay_checkout(user, checkout_id, accept_terms=False, acceptance=wording)
    assert await payments_of(checkout_id) == []


async def test_acceptance_is_stored_on_checkout_and_order(
    any_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    before = datetime.now(UTC)
    async with db.session() as s:
        with i18n.using("fr"):
            await consent.record(
                s, checkout_id=checkout_id, user=user, terms=True, immediate_start=True
            )
    after = datetime.now(UTC)
    outcome = await pay_checkout(user, checkout_id, accept_terms=False)
    assert outcome.status == "paid" and outcome.order_id
    co = await row(Checkout, checkout_id)
    order = await row(Order, outcome.order_id)
    for r in (co, order):
        assert r.terms_version == shipped_terms_version("fr")
        assert r.withdrawal_version == consent.WITHDRAWAL_VERSION == "crd-2026-12-04"
        assert r.terms_accepted_at is not None and r.immediate_start_at is not None
        assert r.terms_accepted_at.tzinfo is not None
        assert r.terms_accepted_at.utcoffset() == UTC.utcoffset(None)
        assert before <= r.terms_accepted_at <= after
        assert before <= r.immediate_start_at <= after
    assert (order.terms_accepted_at, order.immediate_start_at) == (
        co.terms_accepted_at,
        co.immediate_start_at,
    )


async def test_another_travelers_checkout_cannot_be_accepted(
    sqlite_db: Settings, client: SFTClient
) -> None:
    owner, other = await add_user("owner@example.com"), await add_user("other@example.com")
    checkout_id = await open_checkout(owner, client)
    async with db.session() as s:
        with pytest.raises(CheckoutError) as refused:
            await consent.record(
                s, checkout_id=checkout_id, user=other, terms=True, immediate_start=True
            )
    assert refused.value.code == "not_found"
    co = await row(Checkout, checkout_id)
    assert (co.terms_accepted_at, co.immediate_start_at) == (None, None)


async def sign_in(user: User) -> str:
    async with db.session() as s:
        token = await sessions.start_session(s, user, method="password")
        await s.commit()
    return token


async def test_forged_pay_event_without_the_boxes_is_refused(
    any_db: Settings, client: SFTClient
) -> None:
    """The probe: the traveler's own tab sends ``pay_with_token`` straight away (a forged
    websocket frame: no box ticked, the state vars set as the pay step would have them).
    The payment service refuses; nothing reaches Stripe. Then the boxes ticked through
    their own events: the same forged frame pays, and the order records the acceptance."""
    user = await add_user()
    token = await sign_in(user)
    checkout_id = await open_checkout(user, client)
    url = f"/buy/{PLAN_ID}?to=FR&checkout={checkout_id}"

    buy = tab(BuyState, token, url)
    buy.plan_id, buy.checkout_id, buy.step, buy.busy = PLAN_ID, checkout_id, "pay", True
    await call(BuyState.event_handlers["pay_with_token"], buy, [card_token("4242424242424242"), ""])
    assert buy.error.startswith("Please accept the terms"), buy.error
    assert not buy.busy
    assert await payments_of(checkout_id) == []
    assert stripe_intents({checkout_id}) == []

    # A forged consent tab whose vars claim the terms box is ticked: ticking only the other
    # box records only that one, so the payment is still refused.
    boxes = tab(BuyConsentState, token, url)
    boxes.terms = True
    await call(BuyConsentState.event_handlers["set_immediate_start"], boxes, [True])
    co = await row(Checkout, checkout_id)
    assert co.terms_accepted_at is None and co.immediate_start_at is not None
    buy.busy = True
    await call(BuyState.event_handlers["pay_with_token"], buy, [card_token("4242424242424242"), ""])
    assert buy.error.startswith("Please accept the terms") and await payments_of(checkout_id) == []

    await call(BuyConsentState.event_handlers["set_terms"], boxes, [True])
    assert boxes.accepted
    buy.busy, buy.error = True, ""
    steps = await call(
        BuyState.event_handlers["pay_with_token"], buy, [card_token("4242424242424242"), ""]
    )
    assert buy.error == "", buy.error
    (payment,) = await payments_of(checkout_id)
    async with db.session() as s:
        order = (await s.exec(select(Order).where(col(Order.checkout_id) == checkout_id))).one()
    assert payment.status == "authorized"
    assert order.terms_version == shipped_terms_version()
    assert order.withdrawal_version == consent.WITHDRAWAL_VERSION
    assert any(f"/orders/{order.id}" in str(step) for step in steps), steps


async def test_unticking_clears_the_box(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    token = await sign_in(user)
    checkout_id = await open_checkout(user, client)
    boxes = tab(BuyConsentState, token, f"/buy/{PLAN_ID}?to=FR&checkout={checkout_id}")
    await call(BuyConsentState.event_handlers["set_terms"], boxes, [True])
    await call(BuyConsentState.event_handlers["set_immediate_start"], boxes, [True])
    first = await row(Checkout, checkout_id)
    assert first.terms_accepted_at is not None
    await call(BuyConsentState.event_handlers["set_terms"], boxes, [False])
    co = await row(Checkout, checkout_id)
    assert (co.terms_version, co.terms_accepted_at) == (None, None)
    assert co.immediate_start_at == first.immediate_start_at  # the other box kept its time
    assert not boxes.accepted
    # A reload shows what the checkout records.
    reloaded = tab(BuyConsentState, token, f"/buy/{PLAN_ID}?to=FR&checkout={checkout_id}")
    await call(BuyConsentState.event_handlers["load"], reloaded, [])
    assert (reloaded.terms, reloaded.immediate_start) == (False, True)
    assert reloaded.terms_version == shipped_terms_version()
