"""VAT per customer country and invoice numbers (docs/business-rules.md#vat), below the pages.

Real parts: the SFT simulator on a loopback socket, localstripe over HTTP (the card's country
is read back from it, ``GET /v1/customers/{id}/sources/{card}``), real SQLite files and
PostgreSQL. Expected VAT is computed here with fractions, independently of
``tax.included_vat``: ``gross * rate / (100 + rate)`` rounded half up to the minor unit; rates
are the shipped file's, read as JSON here.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from babel.numbers import format_currency
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    PRICE_MINOR,
    Sim,
    add_plan,
    add_user,
    buy,
    make_staff,
    sft_clients,
    sim_factory,
    stripe_get,
)
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db, i18n
from travelsim.models import AuditLog, Order, Payment, User, VatRate
from travelsim.services import admin, invoices, orders, tax
from travelsim.settings import Settings
from travelsim.sft import SFTClient

SEED = Path(__file__).resolve().parents[2] / "travelsim" / "seed" / "vat_rates.json"
RATES = {k: Fraction(v) for k, v in json.loads(SEED.read_text("utf-8"))["rates"].items()}
CARD_FR = "4000 0025 0000 0003"  # Stripe's French test Visa (docs.stripe.com/testing)
CARD_DE = "4000 0027 6000 0016"
CARD_US = "4242 4242 4242 4242"


def vat_of(gross: int, rate: Fraction) -> int:
    """VAT contained in ``gross`` minor units at ``rate`` percent, rounded half up."""
    exact = Fraction(gross) * rate / (100 + rate)
    return int(exact + Fraction(1, 2)) if exact >= 0 else 0


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=12)
    await add_plan()
    return sft_clients(sim.url)


async def traveler(country: str | None) -> User:
    user = await add_user()
    async with db.session() as s:
        await s.execute(update(User).where(col(User.id) == user.id).values(country=country))
        await s.commit()
    return user


async def order_of(order_id: str | None) -> Order:
    async with db.session() as s:
        order = await s.get(Order, order_id)
    assert order is not None
    return order


async def bought(user: User, client: SFTClient, card: str) -> Order:
    outcome = await buy(user, client, card=card)
    assert outcome.status == "paid", outcome
    return await order_of(outcome.order_id)


# --- the evidence rule on real purchases ------------------------------------------------------
async def test_french_card_and_french_residence_pay_french_vat(
    any_db: Settings, client: SFTClient
) -> None:
    user = await traveler("FR")
    order = await bought(user, client, CARD_FR)
    async with db.session() as s:
        payment = await s.get(Payment, order.payment_id)
        stored_user = await s.get(User, user.id)
    assert payment is not None and stored_user is not None
    card = stripe_get(f"customers/{stored_user.stripe_customer_id}/sources/{payment.card_ref}")
    assert card["country"] == "FR" == payment.card_country
    assert (order.tax_country, order.tax_rule) == ("FR", "evidence_agree")
    assert (order.evidence_card_country, order.evidence_stated_country) == ("FR", "FR")
    assert order.tax_rate_bp == int(RATES["FR"] * 100) == 2000
    assert order.amount_minor == PRICE_MINOR  # the price paid does not change
    assert order.tax_minor == vat_of(PRICE_MINOR, RATES["FR"]) == 165
    year = datetime.now(UTC).year
    assert order.invoice_number == f"{year}-000001"

    assert user.id is not None
    with i18n.using("fr"):
        async with db.session() as s:
            receipt = await orders.receipt_view(s, order_id=order.id, user_id=user.id)
    assert receipt is not None
    assert receipt.invoice_number == f"{year}-000001"
    assert receipt.customer_country == "🇫🇷 France"
    assert receipt.vat_rate == "20" and not receipt.outside_eu
    assert receipt.vat == format_currency(1.65, "EUR", locale="fr_FR")
    assert receipt.net == format_currency(8.25, "EUR", locale="fr_FR")
    assert receipt.total == format_currency(9.90, "EUR", locale="fr_FR")
    async with db.session() as s:
        detail = await admin.order_detail(s, order.id)
    assert detail is not None
    assert detail["invoice"] == (
        f"{year}-000001 · VAT €1.65 · FR 20 % · evidence_agree (card FR, stated FR)"
    )


@pytest.mark.parametrize(
    ("stated", "card", "country", "rule"),
    [
        ("DE", CARD_FR, "BE", "evidence_conflict"),  # disagreement: the home rate
        (None, CARD_DE, "BE", "evidence_missing"),  # one piece only: the home rate
        ("DE", CARD_DE, "DE", "evidence_agree"),
    ],
)
async def test_evidence_decides_the_country_taxed(
    sqlite_db: Settings, client: SFTClient, stated: str | None, card: str, country: str, rule: str
) -> None:
    assert sqlite_db.seller_country == "BE"
    order = await bought(await traveler(stated), client, card)
    assert (order.tax_country, order.tax_rule) == (country, rule)
    assert order.tax_rate_bp == int(RATES[country] * 100)
    assert order.tax_minor == vat_of(PRICE_MINOR, RATES[country])


async def test_outside_the_eu_no_eu_vat(sqlite_db: Settings, client: SFTClient) -> None:
    user = await traveler("US")
    order = await bought(user, client, CARD_US)
    assert (order.tax_country, order.tax_rate_bp, order.tax_minor) == ("US", 0, 0)
    assert order.tax_rule == "outside_eu"
    assert user.id is not None
    async with db.session() as s:
        receipt = await orders.receipt_view(s, order_id=order.id, user_id=user.id)
    assert receipt is not None and receipt.outside_eu and receipt.vat_rate == "0"
    assert receipt.net == receipt.total == format_currency(9.90, "EUR", locale="en_US")


async def test_a_saved_card_keeps_its_country(sqlite_db: Settings, client: SFTClient) -> None:
    from travelsim.services import checkout, checkout_payment, consent, saved_cards
    from travelsim.services.payments import get_provider

    user = await traveler("FR")
    first = await buy(user, client, card=CARD_FR, keep_card=True)
    assert first.status == "paid"
    assert user.id is not None
    async with db.session() as s:
        (kept,) = await saved_cards.list_cards(s, user.id)
        c = await checkout.start_checkout(
            s, user=user, plan_id=PLAN_ID, destination="FR", client=client
        )
        checkout_id = c.id
    async with db.session() as s:
        outcome = await checkout_payment.pay(
            s,
            get_provider(),
            checkout_id=checkout_id,
            user=user,
            card=checkout_payment.SavedCardChoice(kept.id),
            device_confirmed=True,
            acceptance=consent.Acceptance.given_now(),
        )
    assert outcome.status == "paid", outcome
    order = await order_of(outcome.order_id)
    assert (order.evidence_card_country, order.tax_country) == ("FR", "FR")


# --- invoice numbers: gap-free, no duplicates, under concurrency --------------------------------
async def test_concurrent_purchases_get_consecutive_invoice_numbers(
    any_db: Settings, client: SFTClient
) -> None:
    buyers = [await traveler("FR") for _ in range(8)]
    outcomes = await asyncio.gather(*(buy(u, client, card=CARD_FR) for u in buyers))
    assert all(o.status == "paid" for o in outcomes), outcomes
    async with db.session() as s:
        numbers = sorted((await s.exec(select(Order.invoice_number))).all())
    year = datetime.now(UTC).year
    assert numbers == [f"{year}-{n:06d}" for n in range(1, 9)]


async def test_a_rolled_back_order_gives_its_number_back(any_db: Settings) -> None:
    """Many transactions take numbers at once; every third rolls back. The committed ones
    are exactly 1..k: no gap (what a rollback took is taken again), no duplicate."""

    async def take(i: int) -> str | None:
        async with db.session() as s:
            number = await invoices.next_invoice_number(s, 2031)
            await asyncio.sleep(0)  # let the others run while the counter is held
            if i % 3 == 0:
                await s.rollback()
                return None
            await s.commit()
            return number

    taken = await asyncio.gather(*(take(i) for i in range(12)))
    kept = sorted(n for n in taken if n is not None)
    assert kept == [f"2031-{n:06d}" for n in range(1, 9)]
    async with db.session() as s:
        assert (await s.exec(select(Order))).all() == []  # nothing else was written


# --- staff edit a rate: audited, applies to later orders ----------------------------------------
async def test_staff_rate_edit_is_audited_and_used_by_the_next_order(
    any_db: Settings, client: SFTClient
) -> None:
    staff = await make_staff()
    before = await bought(await traveler("FR"), client, CARD_FR)
    outcome = await admin.update_rate(staff, "fr", "21,5")
    assert outcome.ok, outcome
    after = await bought(await traveler("FR"), client, CARD_FR)
    assert (before.tax_rate_bp, after.tax_rate_bp) == (2000, 2150)
    assert after.tax_minor == vat_of(PRICE_MINOR, Fraction("21.5"))
    assert (await order_of(before.id)).tax_minor == vat_of(PRICE_MINOR, RATES["FR"])

    for country, rate in (("US", "5"), ("FR", "35"), ("FR", "abc"), ("FR", "0")):
        refused = await admin.update_rate(staff, country, rate)
        assert refused.result == "refused", (country, rate)
    async with db.session() as s:
        rows = (
            await s.exec(
                select(AuditLog)
                .where(col(AuditLog.action) == "tax.rate")
                .order_by(col(AuditLog.id))
            )
        ).all()
        fr = await s.get(VatRate, "FR")
        listed = {r["country"]: r for r in await admin.list_rates(s)}
    assert [(r.result, r.target_id, r.actor) for r in rows] == [
        ("ok", "FR", staff.email),
        ("refused", "US", staff.email),
        ("refused", "FR", staff.email),
        ("refused", "FR", staff.email),
        ("refused", "FR", staff.email),
    ]
    assert rows[0].detail == "VAT rate of FR: 20 % → 21.5 %"
    assert fr is not None and (fr.rate_bp, fr.updated_by) == (2150, staff.email)
    assert (listed["FR"]["rate"], listed["FR"]["shipped"], listed["FR"]["by"]) == (
        "21.5",
        "20",
        staff.email,
    )
    assert len(listed) == 27 and listed["BE"]["home"] == "yes"
    async with db.session() as s:
        assert (await tax.rates_in_force(s))["FR"] == 2150


# --- credit notes: a refund cancels the invoice ------------------------------------------------
async def test_a_staff_refund_issues_one_credit_note(
    sqlite_db: Settings, client: SFTClient
) -> None:
    from test_admin_actions import delivered_order

    staff = await make_staff()
    first = await delivered_order(client, card=CARD_FR)
    second = await delivered_order(client, card=CARD_FR)
    outcome = await admin.refund_order(staff, first.id, client=client)
    assert outcome.ok, outcome.message
    again = await admin.refund_order(staff, first.id, client=client)
    assert again.result == "refused"  # already refunded: no second credit note
    year = datetime.now(UTC).year
    refunded, kept = await order_of(first.id), await order_of(second.id)
    assert (refunded.invoice_number, refunded.credit_note_number) == (
        f"{year}-000001",
        f"CN-{year}-000001",
    )
    assert (kept.invoice_number, kept.credit_note_number) == (f"{year}-000002", None)
    assert refunded.user_id is not None
    async with db.session() as s:
        receipt = await orders.receipt_view(s, order_id=first.id, user_id=refunded.user_id)
    assert receipt is not None and receipt.credit_note_number == f"CN-{year}-000001"


async def test_credit_notes_have_their_own_gap_free_sequence(any_db: Settings) -> None:
    async with db.session() as s:
        taken = [
            await invoices.next_invoice_number(s, 2032),
            await invoices.next_invoice_number(s, 2032, invoices.CREDIT_NOTE),
            await invoices.next_invoice_number(s, 2032),
            await invoices.next_invoice_number(s, 2033, invoices.CREDIT_NOTE),
        ]
        await s.commit()
    assert taken == ["2032-000001", "CN-2032-000001", "2032-000002", "CN-2033-000001"]
    with pytest.raises(KeyError):
        async with db.session() as s:
            await invoices.next_invoice_number(s, 2032, "receipt")
