"""The VAT evidence rule, the shipped rates file and rate parsing (docs/business-rules.md#vat).

Expected values come from the documents: the EU's 27 member states
(https://european-union.europa.eu/principles-countries-history/eu-countries_en), the rule
table of docs/business-rules.md#vat-evidence, and VAT computed here with fractions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from travelsim.services import tax
from travelsim.services.tax import TaxRule, decide
from travelsim.settings import Settings
from travelsim.stripe_local_server import TEST_CARD_COUNTRIES

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "travelsim" / "seed" / "vat_rates.json"
#: The member states as the EU lists them, written out here (not read from the code).
MEMBERS = (
    "Austria AT, Belgium BE, Bulgaria BG, Croatia HR, Cyprus CY, Czechia CZ, Denmark DK, "
    "Estonia EE, Finland FI, France FR, Germany DE, Greece GR, Hungary HU, Ireland IE, Italy IT, "
    "Latvia LV, Lithuania LT, Luxembourg LU, Malta MT, Netherlands NL, Poland PL, Portugal PT, "
    "Romania RO, Slovakia SK, Slovenia SI, Spain ES, Sweden SE"
)
CODES = {item.split()[-1] for item in MEMBERS.split(", ")}
RATES = tax.shipped_rates().rates


# --- the rates file -------------------------------------------------------------------------
def test_rates_file_has_every_member_state_with_a_plausible_rate_source_and_date() -> None:
    data = json.loads(SEED.read_text("utf-8"))
    assert len(CODES) == 27 and set(data["rates"]) == CODES == tax.EU_MEMBERS
    for code, rate in data["rates"].items():
        assert 0 < Fraction(rate) < 30, code
    assert data["source"].startswith("https://taxation-customs.ec.europa.eu/")
    assert data["database"].startswith("https://ec.europa.eu/taxation_customs/tedb")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["compiled"])
    loaded = tax.load_rates_file(SEED)
    assert loaded.rates == {k: int(Fraction(v) * 100) for k, v in data["rates"].items()}
    assert (loaded.source, loaded.compiled) == (data["source"], data["compiled"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rates"].pop("MT"), "missing \\['MT'\\]"),
        (lambda d: d["rates"].update(CH="8.1"), "not EU members \\['CH'\\]"),
        (lambda d: d["rates"].update(HU="35"), "outside 0 < rate < 30 % for \\['HU'\\]"),
        (lambda d: d["rates"].update(LU="0"), "outside 0 < rate < 30 % for \\['LU'\\]"),
        (lambda d: d.pop("source"), "source URL and a compiled date"),
        (lambda d: d.pop("compiled"), "source URL and a compiled date"),
    ],
)
def test_a_broken_rates_file_is_refused(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = json.loads(SEED.read_text("utf-8"))
    change(data)
    path = tmp_path / "vat_rates.json"
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(ValueError, match=message):
        tax.load_rates_file(path)


def test_seller_country_accepts_exactly_the_member_states() -> None:
    for code in CODES:
        assert Settings(seller_country=code).seller_country == code
    for code in ("CH", "GB", "NO", "EL", "be", ""):
        with pytest.raises(ValueError):
            Settings(seller_country=code)
    assert Settings().seller_country == "BE"


# --- the evidence rule (docs/business-rules.md#vat-evidence) ------------------------------------
def test_agreeing_evidence_taxes_the_customers_member_state() -> None:
    d = decide("FR", "fr", home_country="BE", rates=RATES)
    assert (d.country, d.rate_bp, d.rule) == ("FR", 2000, TaxRule.EVIDENCE_AGREE)
    assert (d.card_country, d.stated_country) == ("FR", "FR")


def test_disagreeing_evidence_falls_back_to_the_home_rate() -> None:
    d = decide("FR", "DE", home_country="BE", rates=RATES)
    assert (d.country, d.rate_bp, d.rule) == ("BE", 2100, TaxRule.EVIDENCE_CONFLICT)
    assert (d.card_country, d.stated_country) == ("FR", "DE")
    # An EU card and a non-EU statement disagree too.
    assert decide("US", "FR", home_country="BE", rates=RATES).rule == TaxRule.EVIDENCE_CONFLICT


@pytest.mark.parametrize(
    ("card", "stated"), [(None, "FR"), ("FR", None), ("", ""), ("F", "FR"), ("FR", "12")]
)
def test_missing_evidence_falls_back_to_the_home_rate(card: str | None, stated: str | None) -> None:
    d = decide(card, stated, home_country="DE", rates=RATES)
    assert (d.country, d.rate_bp, d.rule) == ("DE", 1900, TaxRule.EVIDENCE_MISSING)


def test_agreeing_evidence_outside_the_eu_means_no_eu_vat() -> None:
    d = decide("us", "US", home_country="BE", rates=RATES)
    assert (d.country, d.rate_bp, d.rule) == ("US", 0, TaxRule.OUTSIDE_EU)


def test_the_rates_in_force_are_used_not_the_file() -> None:
    d = decide("FI", "FI", home_country="BE", rates={**RATES, "FI": 2400})
    assert d.rate_bp == 2400


# --- rates and amounts --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "bp"), [("21", 2100), ("25.5", 2550), ("25,5", 2550), (" 8.25 ", 825), ("0", 0)]
)
def test_rates_typed_in_percent(text: str, bp: int) -> None:
    assert tax.parse_rate(text) == bp
    assert Fraction(tax.format_rate(bp)) == Fraction(bp, 100)


@pytest.mark.parametrize("text", ["", "abc", "21.555", "100", "-1", "NaN", "Infinity"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        tax.parse_rate(text)


def test_format_rate_writes_no_trailing_zeros() -> None:
    assert [tax.format_rate(b) for b in (2100, 2550, 2505, 0)] == ["21", "25.5", "25.05", "0"]


@pytest.mark.parametrize("code", sorted(CODES))
def test_vat_contained_matches_an_independent_computation(code: str) -> None:
    rate = Fraction(RATES[code], 100)
    for gross in (1, 99, 450, 990, 1237, 4999, 100_000):
        exact = Fraction(gross) * rate / (100 + rate)
        expected = int(exact + Fraction(1, 2))  # half up
        assert tax.included_vat(gross, Decimal(RATES[code]) / 100) == expected, (code, gross)


def test_stripe_test_cards_mapped_to_countries_are_valid_numbers() -> None:
    """localstripe's card countries use Stripe's documented international test numbers: each
    passes the Luhn check and starts 4000 00 + the ISO 3166 numeric code of its country."""
    import pycountry

    for number, country in TEST_CARD_COUNTRIES.items():
        digits = [int(c) for c in reversed(number)]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)
        )
        assert total % 10 == 0, number
        numeric = pycountry.countries.get(alpha_2=country).numeric
        assert number.startswith("400000" + numeric), (number, country)
