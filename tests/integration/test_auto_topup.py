"""Automatic top-up over the SFT simulator (real loopback socket), localstripe (real HTTP) and
a real SQLite database (``services.auto_topup``, ``services.auto_topup_fire``;
docs/business-rules.md#automatic-top-up).

Data is used on the simulator (``/_sim/consume``) and read back by the ordinary usage sync,
whose figures hook fires the rule: the thresholds and amounts asserted come from the plan
catalogue (1 GB = 1,073,741,824 bytes, 9.90 EUR) and the rule's own settings.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PRICE_MINOR,
    Sim,
    add_plan,
    add_user,
    buy,
    card_token,
    sft_clients,
    sim_factory,
    stripe_intents,
)
from sqlmodel import col, select

from tests.stripe_support import CARD_3DS, CARD_OK, RunningLocalStripe
from travelsim import db
from travelsim.models import (
    AutoTopupCharge,
    AutoTopupRule,
    Esim,
    Order,
    OutboxEmail,
    Plan,
    PurchaseKind,
    User,
)
from travelsim.models import Checkout as CheckoutRow
from travelsim.services import (
    admin,
    auto_topup,
    auto_topup_fire,
    checkout,
    consent,
    platform,
    provisioning,
    saved_cards,
    usage_sync,
)
from travelsim.services.admin import Staff
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import SFTClient
from travelsim.sft.models import Priority

MB = 1_048_576
GB = 1_073_741_824
FAST: dict[str, Any] = {"backoff": (0.01,)}
#: Attaches to a Customer, then every charge is declined (Stripe's test card, as localstripe).
CARD_CHARGE_DECLINED = "4000000000000341"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The orders the firing hands to provisioning (``platform.ensure_provisioning`` stands
    in: each test runs ``provisioning.run_order`` itself)."""
    orders: list[str] = []
    monkeypatch.setattr(platform, "ensure_provisioning", lambda oid: orders.append(oid) or True)
    return orders


@pytest.fixture
async def setup(
    sqlite_db: Settings,
    localstripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> tuple[Sim, SFTClient]:
    sim = sim_factory(esims=6)
    await add_plan()
    return sim, sft_clients(sim.url)


async def delivered(client: SFTClient) -> tuple[User, int, int]:
    """A traveler who bought France 1 GB with a kept Visa 4242: ``(user, esim_id, card_id)``."""
    user = await add_user()
    outcome = await buy(user, client, card=CARD_OK, keep_card=True)
    assert outcome.status == "paid" and outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered"
    await sync(client, order.esim_id)
    assert user.id is not None
    async with db.session() as s:
        (card,) = await saved_cards.list_cards(s, user.id)
    return user, order.esim_id, card.id


async def extra_card(user: User, number: str) -> int:
    """Another card on the traveler's Customer, kept (as if saved at an earlier payment)."""
    async with db.session() as s:
        fresh = await s.get(User, user.id)
        assert fresh is not None and fresh.stripe_customer_id and fresh.id is not None
        info = await get_provider().attach_card(fresh.stripe_customer_id, card_token(number))
        await saved_cards.remember(s, fresh.id, info)
        cards = await saved_cards.list_cards(s, fresh.id)
    return cards[-1].id


async def sync(client: SFTClient, esim_id: int) -> None:
    await usage_sync.sync_esims(client, [esim_id], priority=Priority.SYNC)


async def enable(user: User, esim_id: int, card_id: int, **kw: Any) -> None:
    assert user.id is not None
    settings: dict[str, Any] = {"kind": "bytes", "value": 200 * MB, "plan_id": "870101"}
    settings.update(kw)
    async with db.session() as s:
        await auto_topup.enable(
            s, user_id=user.id, esim_id=esim_id, saved_card_id=card_id, **settings
        )


async def use(sim: Sim, esim_id: int, nbytes: int) -> None:
    async with db.session() as s:
        esim = await s.get(Esim, esim_id)
        assert esim is not None
    sim.api.consume(esim.endpoint_id, nbytes)


async def rows(model: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model).order_by(col(model.id)))).all())


async def rule_of(esim_id: int) -> AutoTopupRule:
    async with db.session() as s:
        rule = (
            await s.exec(select(AutoTopupRule).where(col(AutoTopupRule.esim_id) == esim_id))
        ).one()
        return rule


async def emails(kind: str) -> list[OutboxEmail]:
    return [e for e in await rows(OutboxEmail) if e.kind == kind]


async def test_fires_once_at_the_threshold_and_not_above(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    await enable(user, esim_id, card_id)
    await use(sim, esim_id, GB - 300 * MB)  # 300 MB left: above 200 MB
    await sync(client, esim_id)
    assert await rows(AutoTopupCharge) == [] and started == []

    await use(sim, esim_id, 150 * MB)  # 150 MB left: the threshold is crossed
    await sync(client, esim_id)
    await sync(client, esim_id)  # seen again: the same crossing never buys twice
    assert (await auto_topup_fire.check_esims([esim_id], start_provisioning=started.append)) == []
    (charge,) = await rows(AutoTopupCharge)
    assert (charge.status, charge.amount_minor, charge.currency) == ("charged", PRICE_MINOR, "EUR")
    assert charge.card_label == "Visa •••• 4242"
    (order,) = [o for o in await rows(Order) if o.kind == PurchaseKind.TOPUP]
    assert charge.order_id == order.id and started == [order.id]
    (intent,) = stripe_intents({str(charge.checkout_id)})
    assert (intent["amount"], intent["capture_method"]) == (PRICE_MINOR, "manual")
    assert intent["status"] == "requires_capture"
    (mail,) = await emails("auto_topup")
    assert (
        "9.90" in mail.body_text
        and "Visa •••• 4242" in mail.body_text
        and order.reference in mail.body_text
    )
    assert f"/esims/{esim_id}" in mail.body_text  # how to turn it off
    assert not (await rule_of(esim_id)).armed
    # Off and on again before the add-on arrives: still the same crossing, nothing more bought.
    assert user.id is not None
    async with db.session() as s:
        assert await auto_topup.disable(s, user_id=user.id, esim_id=esim_id)
    await enable(user, esim_id, card_id)
    await sync(client, esim_id)
    assert len(await rows(AutoTopupCharge)) == 1 and not (await rule_of(esim_id)).armed

    # Delivered (captured on delivery), read back: 150 MB + 1 GB left, above: armed again.
    delivered_order = await provisioning.run_order(order.id, client=client, **FAST)
    assert delivered_order.status == "delivered"
    await sync(client, esim_id)
    rule = await rule_of(esim_id)
    assert rule.enabled and rule.armed and rule.crossings == 1
    (intent,) = stripe_intents({str(charge.checkout_id)})
    assert intent["status"] == "succeeded"


async def test_the_cap_stops_the_next_crossing_with_an_email(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    await enable(user, esim_id, card_id, monthly_cap=1)
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    (order_id,) = started
    assert (await provisioning.run_order(order_id, client=client, **FAST)).status == "delivered"
    await sync(client, esim_id)
    assert (await rule_of(esim_id)).armed
    await use(sim, esim_id, 100 * MB + GB - 50 * MB)  # 50 MB left of the new add-on
    await sync(client, esim_id)
    first, second = await rows(AutoTopupCharge)
    assert (first.status, second.status) == ("charged", "capped")
    assert second.checkout_id is None and started == [order_id]  # nothing bought
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "cap_reached")
    (mail,) = await emails("auto_topup_stopped")
    assert "limit" in mail.body_text


async def test_a_declined_card_stops_the_rule(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, _ = await delivered(client)
    card_id = await extra_card(user, CARD_CHARGE_DECLINED)
    await enable(user, esim_id, card_id)
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert charge.status == "declined" and started == []
    assert [o for o in await rows(Order) if o.kind == PurchaseKind.TOPUP] == []
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "declined")
    (mail,) = await emails("auto_topup_stopped")
    assert "declined" in mail.body_text


async def test_3ds_needed_off_session_stops_with_a_link_to_finish_on_the_page(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, _ = await delivered(client)
    card_id = await extra_card(user, CARD_3DS)
    await enable(user, esim_id, card_id)
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert charge.status == "requires_action" and charge.checkout_id and started == []
    (intent,) = stripe_intents({charge.checkout_id})
    assert intent["status"] == "requires_action"
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "authentication_required")
    (mail,) = await emails("auto_topup_stopped")
    assert f"/buy/870101?checkout={charge.checkout_id}" in mail.body_text
    assert user.id is not None
    async with db.session() as s:  # that page runs 3-D Secure (confirmCardPayment)
        page = await checkout.checkout_page(
            s, checkout_id=charge.checkout_id, user_id=user.id, plan_id="870101"
        )
    assert page.open and page.step == "action"


async def test_a_suspended_esim_is_never_charged(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    # A suspended endpoint carries no traffic: the data fell below first (no rule yet), the
    # rule is turned on, then staff suspend the eSIM before the next read.
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    await enable(user, esim_id, card_id)
    staff_user = await add_user("staff@example.com")
    async with db.session() as s:
        row = await s.get(User, staff_user.id)
        assert row is not None and row.id is not None
        row.is_staff = True
        s.add(row)
        await s.commit()
    await admin.set_suspended(Staff(row.id, row.email), esim_id, suspend=True, client=client)
    before = len(stripe_intents())
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert (charge.status, charge.checkout_id) == ("skipped", None)
    assert len(stripe_intents()) == before and started == []
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "suspended")
    assert len(await emails("auto_topup_stopped")) == 1


async def test_an_immediate_plan_that_would_expire_unused_is_not_bought(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    async with db.session() as s:  # the simulator's "Test 100 MB 1 day", Immediate, sold for FR
        s.add(
            Plan(
                plan_id="870401",
                sft_name="Test 100 MB 1 day",
                volume_bytes=100 * MB,
                validity_days=1,
                activated_by="immediate",
                sft_countries=["BE"],
                display_name="Test 100 MB",
                price_minor=199,
                currency="EUR",
                destinations=["FR"],
                on_sale=True,
            )
        )
        await s.commit()
    user, esim_id, card_id = await delivered(client)
    # 1 GB for 7 days, started by the first use: 900 MB left is more than a day's worth of
    # validity ahead of the new add-on, whose 1-day clock would start at purchase.
    await enable(user, esim_id, card_id, value=950 * MB, plan_id="870401")
    await use(sim, esim_id, 124 * MB)
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert (charge.status, charge.checkout_id) == ("skipped", None) and started == []
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "validity")


async def test_a_removed_card_stops_the_rule(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    await enable(user, esim_id, card_id)
    assert user.id is not None
    async with db.session() as s:
        assert await saved_cards.remove_card(s, get_provider(), user.id, card_id)
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert charge.status == "skipped" and started == []
    assert (await rule_of(esim_id)).stop_reason == "card_removed"


async def test_only_the_owner_turns_it_on_or_off(setup: tuple[Sim, SFTClient]) -> None:
    _, client = setup
    user, esim_id, card_id = await delivered(client)
    other = await add_user()
    assert other.id is not None and user.id is not None
    with pytest.raises(auto_topup.AutoTopupError) as refused:
        await enable(other, esim_id, card_id)
    assert refused.value.code == "not_found"
    with pytest.raises(auto_topup.AutoTopupError) as bad:
        await enable(user, esim_id, card_id, plan_id="870131")  # USA: not offered for FR
    assert bad.value.code == "bad_plan"
    await enable(user, esim_id, card_id)
    async with db.session() as s:
        assert not await auto_topup.disable(s, user_id=other.id, esim_id=esim_id)
        assert (await rule_of(esim_id)).enabled
        assert await auto_topup.disable(s, user_id=user.id, esim_id=esim_id)
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, None)


async def test_a_top_up_given_up_by_provisioning_stops_the_rule_and_leaves_the_cap(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    await enable(user, esim_id, card_id, monthly_cap=1)
    await use(sim, esim_id, GB - 100 * MB)
    await sync(client, esim_id)
    (order_id,) = started
    async with db.session() as s:  # what recovery does after too many runs
        order = await provisioning.give_up_order(
            s, order_id, step_name="subscribe", error="refused"
        )
    assert order.status == "needs_attention"
    (charge,) = await rows(AutoTopupCharge)
    assert charge.status == "failed"
    (intent,) = stripe_intents({str(charge.checkout_id)})
    assert intent["status"] == "canceled"  # the hold released: nothing charged
    rule = await rule_of(esim_id)
    assert (rule.enabled, rule.stop_reason) == (False, "not_delivered")
    (mail,) = await emails("auto_topup_stopped")
    assert "could not be delivered" in mail.body_text and "nothing was charged" in mail.body_text
    async with db.session() as s:
        assert rule.id is not None
        assert await auto_topup.charges_this_month(s, rule.id, charge.created_at) == 0
    # Turned on again, the next look at the (still low) figures buys once more.
    await enable(user, esim_id, card_id, monthly_cap=1)
    await sync(client, esim_id)
    assert len(started) == 2 and [c.status for c in await rows(AutoTopupCharge)] == [
        "failed",
        "charged",
    ]


async def test_the_acceptance_given_when_turned_on_goes_onto_each_order(
    setup: tuple[Sim, SFTClient], started: list[str]
) -> None:
    """docs/legal.md#automatic-top-up-and-other-orders: "Confirm and turn on" records the
    terms and the immediate-start request on the rule; the off-session checkout and its order
    carry that acceptance (its version and time), not a new one."""
    sim, client = setup
    user, esim_id, card_id = await delivered(client)
    given = consent.Acceptance.given_now()
    await enable(user, esim_id, card_id, acceptance=given)
    rule = await rule_of(esim_id)
    assert (rule.terms_version, rule.terms_accepted_at) == (given.terms_version, given.at)
    assert (rule.withdrawal_version, rule.immediate_start_at) == (
        consent.WITHDRAWAL_VERSION,
        given.at,
    )
    await use(sim, esim_id, GB - 150 * MB)
    await sync(client, esim_id)
    (charge,) = await rows(AutoTopupCharge)
    assert charge.status == "charged"
    (order,) = [o for o in await rows(Order) if o.kind == PurchaseKind.TOPUP]
    (checkout_row,) = [c for c in await rows(CheckoutRow) if c.id == charge.checkout_id]
    for row in (checkout_row, order):
        assert (row.terms_version, row.terms_accepted_at) == (given.terms_version, given.at)
        assert (row.withdrawal_version, row.immediate_start_at) == (
            given.withdrawal_version,
            given.at,
        )
