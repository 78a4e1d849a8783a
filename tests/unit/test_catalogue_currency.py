"""Offers in the traveler's currency and the seed file's prices (docs/i18n.md#currencies).

Expected money texts are Babel's own rendering of the amounts (CLDR, the page locale),
computed here independently of the portal's formatting helper."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency

from travelsim import i18n
from travelsim.models import Plan
from travelsim.services import catalogue
from travelsim.state.buy_summary import charged_summary
from travelsim.state.currency import cookie_currency

SEED = Path(__file__).resolve().parents[2] / "travelsim" / "seed" / "catalogue.json"


def plan(**overrides: object) -> Plan:
    values: dict[str, object] = {
        "plan_id": "870101",
        "sft_name": "France 1 GB 7 days",
        "volume_bytes": 1_073_741_824,
        "validity_days": 7,
        "activated_by": "on_usage",
        "sft_countries": ["FR"],
        "display_name": "France 1 GB",
        "price_minor": 450,
        "currency": "EUR",
        "destinations": ["FR"],
        "on_sale": True,
    }
    values.update(overrides)
    return Plan(**values)


def test_the_sellers_price_in_the_chosen_currency_is_shown() -> None:
    offer = catalogue.to_offer(plan(), "USD", {"USD": 490, "GBP": 390})
    assert (offer.price_minor, offer.currency, offer.price_note) == (490, "USD", "")
    assert offer.price == format_currency(Decimal("4.90"), "USD", locale="en_US") == "$4.90"
    with i18n.using("fr"):
        gbp = catalogue.to_offer(plan(), "GBP", {"USD": 490, "GBP": 390})
    assert gbp.price == format_currency(Decimal("3.90"), "GBP", locale="fr_FR")


def test_a_plan_without_a_price_in_the_currency_shows_its_base_price_and_says_so() -> None:
    offer = catalogue.to_offer(plan(), "GBP", {"USD": 490})
    assert (offer.price_minor, offer.currency) == (450, "EUR")
    assert offer.price == "€4.50"
    assert offer.price_note == "Shown in EUR: this plan has no GBP price."
    with i18n.using("fr"):
        french = catalogue.to_offer(plan(), "GBP", None)
    assert french.price_note == "Prix affiché en EUR : ce forfait n’a pas de prix en GBP."


def test_the_base_currency_and_no_currency_give_the_base_price_without_note() -> None:
    for currency in ("EUR", None):
        offer = catalogue.to_offer(plan(), currency, {"USD": 490})
        assert (offer.price_minor, offer.currency, offer.price_note) == (450, "EUR", "")
    # A row in the base currency never overrides the base price.
    assert catalogue.price_in(plan(), "EUR", {"EUR": 1}) == (450, "EUR")


def test_offers_for_a_country_are_priced_and_ranked_in_the_shown_currency() -> None:
    small = plan()
    big = plan(plan_id="870102", volume_bytes=5 * 1_073_741_824, price_minor=1290)
    prices = {"870101": {"USD": 490}, "870102": {"USD": 1390}}
    offers = catalogue.offers_for_country([big, small], "FR", "USD", prices)
    # Per GB in dollars: 13.90 / 5 = 2.78 before 4.90 / 1.
    assert [(o.plan_id, o.price_minor, o.currency) for o in offers] == [
        ("870102", 1390, "USD"),
        ("870101", 490, "USD"),
    ]


def test_an_open_checkout_in_another_currency_keeps_its_amount_and_says_so() -> None:
    summary = {"price": "$4.90", "currency": "USD", "price_minor": "490", "price_note": ""}
    same = charged_summary(summary, 490, "USD", "USD")
    assert (same["price"], same["price_note"]) == ("$4.90", "")
    switched = charged_summary(summary, 390, "GBP", "USD")
    assert switched["price"] == format_currency(Decimal("3.90"), "GBP", locale="en_US")
    assert switched["currency"] == "GBP"
    assert switched["price_note"] == (
        "This checkout was opened in GBP and is charged in GBP. To pay in USD, choose the "
        "plan again."
    )


def test_the_cookie_names_an_offered_currency_or_nothing() -> None:
    assert cookie_currency("travelsim_session=abc; travelsim_currency=usd") == "USD"
    assert cookie_currency("travelsim_currency=JPY") == ""  # not offered
    assert cookie_currency("") == "" and cookie_currency(None) == ""


def test_the_seed_gives_every_priced_plan_usd_and_gbp_prices() -> None:
    raw = {str(p["plan_id"]): p for p in json.loads(SEED.read_text())["plans"]}
    rows = {r["plan_id"]: r for r in catalogue.read_seed(SEED)}
    priced = [pid for pid, p in raw.items() if p.get("price")]
    assert priced and all(set(rows[pid]["prices"]) == {"USD", "GBP"} for pid in priced)
    for pid in priced:
        for cur, text in raw[pid]["prices"].items():
            assert rows[pid]["prices"][cur] == int(Decimal(text) * 100)
    assert rows["870101"]["prices"] == {"USD": 490, "GBP": 390}
    unpriced = [pid for pid, p in raw.items() if not p.get("price")]
    assert all(rows[pid]["prices"] == {} for pid in unpriced)


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"USD": "4.905"}, "seed plan 1: bad USD price '4.905'"),
        ({"EUR": "4.90"}, "seed plan 1: EUR is the base currency; set it in price"),
        ({"US": "4.90"}, "seed plan 1: 'US' is not an ISO 4217 currency code"),
        ({"USD": "-1"}, "seed plan 1: the USD price cannot be negative"),
        (["USD", "4.90"], "seed plan 1: prices must be an object"),
    ],
)
def test_bad_seed_prices_are_refused_naming_the_plan(
    tmp_path: Path, prices: object, message: str
) -> None:
    path = tmp_path / "seed.json"
    path.write_text(
        json.dumps(
            {"plans": [{"plan_id": "1", "price": "4.50", "currency": "EUR", "prices": prices}]}
        )
    )
    with pytest.raises(ValueError) as info:
        catalogue.read_seed(path)
    assert str(info.value).startswith(message)


def test_seed_prices_need_a_base_price(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(
        json.dumps({"plans": [{"plan_id": "2", "price": None, "prices": {"USD": "1"}}]})
    )
    with pytest.raises(ValueError, match="seed plan 2: prices need a base price and currency"):
        catalogue.read_seed(path)
