"""Currencies end to end below the pages (docs/i18n.md#currencies): the checkout's amount is
the seller's price in the traveler's currency, Stripe charges it, the receipt and the admin's
revenue show it, never summed across currencies.

Real parts: the SFT simulator on a loopback socket, localstripe over HTTP (what Stripe holds
is read back from it, ``GET /v1/payment_intents/{id}``, never from the portal's rows), real
SQLite files (PostgreSQL too where it is cheap). Expected amounts come from the setup (the
unusual prices written below) and money texts from Babel, computed here.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency
from checkout_support import (  # noqa: F401 - fixtures
    CARD_3DS,
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    pass_3ds,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_get,
)
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db
from travelsim.models import AuditLog, Checkout, Esim, Order, Plan, PlanPrice, User
from travelsim.services import admin, catalogue, checkout, orders, provisioning
from travelsim.services.admin import Staff
from travelsim.settings import Settings
from travelsim.sft import SFTClient

FAST = {"backoff": (0.01,)}
#: Base price (checkout_support.add_plan: 990 EUR) and unusual seller prices in dollars.
BASE = (990, "EUR")
USD_MINOR = 1_237
SEED = Path(__file__).resolve().parents[2] / "travelsim" / "seed" / "catalogue.json"


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=6)
    await add_plan()
    await set_price("USD", USD_MINOR)
    return sft_clients(sim.url)


async def set_price(currency: str, minor: int | None) -> None:
    """The seller's price of PLAN_ID in ``currency`` (``None``: none)."""
    async with db.session() as s:
        row = await s.get(PlanPrice, (PLAN_ID, currency))
        if row is not None:
            await s.delete(row)
            await s.flush()
        if minor is not None:
            s.add(PlanPrice(plan_id=PLAN_ID, currency=currency, price_minor=minor))
        await s.commit()


async def start(user: User, client: SFTClient, currency: str | None) -> Checkout:
    async with db.session() as s:
        return await checkout.start_checkout(
            s, user=user, plan_id=PLAN_ID, destination="FR", client=client, currency=currency
        )


async def get(model: type, key: object) -> object:
    async with db.session() as s:
        return await s.get(model, key)


async def pi_of(checkout_id: str) -> dict[str, object]:
    from travelsim.models import Payment

    async with db.session() as s:
        payment = (
            await s.exec(select(Payment).where(col(Payment.checkout_id) == checkout_id))
        ).one()
    assert payment.provider_ref
    return stripe_get(f"payment_intents/{payment.provider_ref}")


async def make_staff() -> Staff:
    user = await add_user("boss@example.com")
    async with db.session() as s:
        await s.execute(update(User).where(col(User.id) == user.id).values(is_staff=True))
        await s.commit()
    assert user.id is not None
    return Staff(user.id, "boss@example.com")


# --- Stripe charges the traveler's currency -------------------------------------------------
async def test_a_usd_order_charges_usd_and_its_receipt_says_so(
    any_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    co = await start(user, client, "USD")
    assert (co.amount_minor, co.currency) == (USD_MINOR, "USD")
    outcome = await pay_checkout(user, co.id)
    assert outcome.status == "paid" and outcome.order_id
    pi = await pi_of(co.id)
    assert (pi["amount"], pi["currency"]) == (USD_MINOR, "usd")
    order = await get(Order, outcome.order_id)
    assert isinstance(order, Order) and (order.amount_minor, order.currency) == (USD_MINOR, "USD")
    assert user.id is not None
    async with db.session() as s:
        receipt = await orders.receipt_view(
            s, order_id=order.id, user_id=user.id, fallback_rate_bp=2000
        )
    assert receipt is not None
    assert receipt.total == format_currency(Decimal("12.37"), "USD", locale="en_US") == "$12.37"


async def test_gbp_without_a_gbp_price_charges_the_base_price(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    co = await start(user, client, "GBP")
    assert (co.amount_minor, co.currency) == BASE
    outcome = await pay_checkout(user, co.id)
    assert outcome.status == "paid"
    pi = await pi_of(co.id)
    assert (pi["amount"], pi["currency"]) == (BASE[0], "eur")


async def test_admin_revenue_lists_each_currency_apart(
    sqlite_db: Settings, client: SFTClient
) -> None:
    for currency in ("USD", "EUR", "USD"):
        user = await add_user()
        outcome = await pay_checkout(user, (await start(user, client, currency)).id)
        assert outcome.order_id
        delivered = await provisioning.run_order(outcome.order_id, client=client, **FAST)
        assert delivered.status == "delivered"  # captured at Stripe: counted as revenue
    async with db.session() as s:
        view = await admin.overview(s)
    eur = format_currency(Decimal("9.90"), "EUR", locale="en_US")
    usd = format_currency(Decimal("24.74"), "USD", locale="en_US")  # two orders of 12.37
    assert view.revenue_30d == [eur, usd] == ["€9.90", "$24.74"]


# --- a traveler who switches currency mid-checkout -------------------------------------------
async def test_switching_currency_reprices_an_unpaid_checkout_and_keeps_one_esim(
    sqlite_db: Settings, client: SFTClient
) -> None:
    """The open USD checkout keeps its currency while it is open (paying it charges USD);
    starting again in GBP cancels it (nothing was paid) and opens one at the GBP price with
    the same single reservation count: no eSIM held twice, nothing lost."""
    await set_price("GBP", 777)
    user = await add_user()
    usd = await start(user, client, "USD")
    gbp = await start(user, client, "GBP")
    assert gbp.id != usd.id and (gbp.amount_minor, gbp.currency) == (777, "GBP")
    old = await get(Checkout, usd.id)
    assert isinstance(old, Checkout) and old.status == "cancelled"
    async with db.session() as s:
        held = (await s.exec(select(Esim).where(col(Esim.state) == "reserved"))).all()
    assert [e.checkout_id for e in held] == [gbp.id]
    outcome = await pay_checkout(user, gbp.id)
    assert outcome.status == "paid"
    pi = await pi_of(gbp.id)
    assert (pi["amount"], pi["currency"]) == (777, "gbp")


async def test_a_checkout_with_a_charge_under_way_keeps_its_currency(
    sqlite_db: Settings, client: SFTClient
) -> None:
    """A payment waits for 3-D Secure on the USD checkout when the traveler switches to EUR
    and starts again: the same USD checkout comes back (that charge decides), and passing
    the check pays it in USD."""
    user = await add_user()
    usd = await start(user, client, "USD")
    waiting = await pay_checkout(user, usd.id, card=CARD_3DS)
    assert waiting.status == "requires_action"
    again = await start(user, client, "EUR")
    assert again.id == usd.id and (again.amount_minor, again.currency) == (USD_MINOR, "USD")
    paid = await pass_3ds(user, waiting)
    assert paid.status == "paid" and paid.order_id
    pi = await pi_of(usd.id)
    assert (pi["amount"], pi["currency"]) == (USD_MINOR, "usd")


async def test_a_changed_or_removed_usd_price_is_the_price_change_path(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    co = await start(user, client, "USD")
    await set_price("USD", 1_300)
    with pytest.raises(checkout.CheckoutError) as changed:
        await pay_checkout(user, co.id)
    assert changed.value.code == "price_changed"
    assert "from $12.37 to $13.00" in changed.value.message
    # The seller removes the dollar price: the plan's base price is today's price now.
    await set_price("USD", None)
    with pytest.raises(checkout.CheckoutError) as removed:
        await pay_checkout(user, co.id)
    assert "from $12.37 to €9.90" in removed.value.message
    async with db.session() as s:
        again = await checkout.reconfirm_price(s, checkout_id=co.id, user=user)
    assert (again.amount_minor, again.currency) == BASE
    outcome = await pay_checkout(user, co.id)
    assert outcome.status == "paid"
    pi = await pi_of(co.id)
    assert (pi["amount"], pi["currency"]) == (BASE[0], "eur")


async def test_a_base_price_change_does_not_touch_a_usd_checkout(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    co = await start(user, client, "USD")
    async with db.session() as s:
        await s.execute(update(Plan).where(col(Plan.plan_id) == PLAN_ID).values(price_minor=1500))
        await s.commit()
    outcome = await pay_checkout(user, co.id)
    assert outcome.status == "paid"
    pi = await pi_of(co.id)
    assert (pi["amount"], pi["currency"]) == (USD_MINOR, "usd")


# --- the seed and the admin editor -----------------------------------------------------------
async def test_the_seed_fills_plan_prices_and_offers_use_them(
    sqlite_db: Settings, dispose_engines: None
) -> None:
    await add_plan()
    async with db.session() as s:
        await catalogue.apply_seed(s, catalogue.read_seed(SEED))
        prices = await catalogue.plan_prices(s, [PLAN_ID])
        plans = await catalogue.sellable_plans(s)
    assert prices == {PLAN_ID: {"USD": 490, "GBP": 390}}  # the seed's "4.90" and "3.90"
    (usd,) = catalogue.offers_for_country(plans, "FR", "USD", prices)
    assert (usd.price, usd.price_note) == ("$4.90", "")


async def test_staff_edit_prices_per_currency_audited_with_clear_refusals(
    sqlite_db: Settings, dispose_engines: None
) -> None:
    await add_plan()
    staff = await make_staff()

    async def edit(**prices: str) -> admin.ActionResult:
        return await admin.update_plan(
            staff,
            PLAN_ID,
            display_name="France 1 GB",
            price="9.90",
            currency="EUR",
            destinations="FR",
            on_sale=True,
            prices=prices,
        )

    ok = await edit(USD="12.90", GBP="9.50")
    assert ok.result == "ok", ok.message
    async with db.session() as s:
        assert await catalogue.plan_prices(s) == {PLAN_ID: {"USD": 1290, "GBP": 950}}
        listed = (await admin.list_plans(s)).rows[0]
    assert (listed["price_USD"], listed["price_GBP"]) == ("12.90", "9.50")
    assert listed["prices_text"] == "€9.90 · £9.50 · $12.90"
    removed = await edit(USD="")
    assert removed.result == "ok"
    async with db.session() as s:
        assert await catalogue.plan_prices(s) == {PLAN_ID: {"GBP": 950}}  # GBP untouched
        audit = (
            await s.exec(
                select(AuditLog).where(col(AuditLog.action) == "plan.update").order_by(AuditLog.id)
            )
        ).all()
    assert "price USD: none -> $12.90" in audit[0].detail
    assert "price GBP: none -> £9.50" in audit[0].detail
    assert audit[1].detail == "price USD: $12.90 -> none"
    for prices, words in (
        ({"EUR": "9.90"}, "EUR is the base currency"),
        ({"USD": "12.999"}, "invalid price '12.999' for USD"),
        ({"USD": "-1"}, "the price cannot be negative"),
        ({"US": "1"}, "'US' is not an ISO 4217 currency code"),
    ):
        refused = await edit(**prices)
        assert refused.result == "refused" and words in refused.message, refused.message
    async with db.session() as s:
        assert await catalogue.plan_prices(s) == {PLAN_ID: {"GBP": 950}}  # nothing changed
