"""VAT per customer country (docs/business-rules.md#vat).

EU sales of telecommunications services to consumers are taxed in the customer's country
(Council Directive 2006/112/EC art. 58). The seller knows that country from two pieces of
non-contradictory evidence (Implementing Regulation 282/2011 art. 24b(d) and 24f): here the
issuing country of the card (Stripe's ``card.country``) and the country of residence the
traveler stated. :func:`decide` applies the rule:

* both known and the same EU member state → that state's rate (``evidence_agree``);
* both known and the same country outside the EU → no EU VAT, rate 0 (``outside_eu``:
  art. 58 places the supply outside the EU);
* both known and different → the seller's home rate (``evidence_conflict``);
* one or both missing → the seller's home rate (``evidence_missing``).

Rates are hundredths of a percent (``2100`` = 21 %). The shipped table is
``travelsim/seed/vat_rates.json`` (:func:`shipped_rates`); the database's ``vat_rate`` rows,
seeded from it and edited by staff, are what orders use (:func:`rates_in_force`); a member
state missing there falls back to the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import VatRate

__all__ = [
    "EU_MEMBERS",
    "RATES_FILE",
    "RatesFile",
    "TaxDecision",
    "TaxRule",
    "decide",
    "format_rate",
    "included_vat",
    "load_rates_file",
    "parse_rate",
    "rates_in_force",
    "shipped_rates",
]

#: The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR, the EU's VAT lists write EL):
#: https://european-union.europa.eu/principles-countries-history/eu-countries_en
EU_MEMBERS: frozenset[str] = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

RATES_FILE = Path(__file__).resolve().parents[1] / "seed" / "vat_rates.json"


class TaxRule(StrEnum):
    """Which case of the evidence rule decided an order's VAT (module docstring)."""

    EVIDENCE_AGREE = "evidence_agree"
    OUTSIDE_EU = "outside_eu"
    EVIDENCE_CONFLICT = "evidence_conflict"
    EVIDENCE_MISSING = "evidence_missing"


@dataclass(frozen=True, slots=True)
class TaxDecision:
    """The VAT of one order: ``country`` taxed (ISO alpha-2), ``rate_bp`` (hundredths of a
    percent) and the ``rule`` that decided, with the evidence it looked at (``None``: not
    known)."""

    country: str
    rate_bp: int
    rule: TaxRule
    card_country: str | None
    stated_country: str | None


@dataclass(frozen=True, slots=True)
class RatesFile:
    """The shipped rates table: ``rates`` (country → hundredths of a percent), its public
    ``source`` URL and the ISO date it was ``compiled``."""

    rates: dict[str, int]
    source: str
    compiled: str


def parse_rate(text: str) -> int:
    """A rate typed in percent ("21", "25.5", "25,5") as hundredths of a percent (2550).
    Raises ``ValueError`` unless it is a number with at most 2 decimals, 0 ≤ rate < 100."""
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("the rate must be a number of percent, e.g. 21 or 25.5") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError("the rate has at most two decimals")
    if not Decimal(0) <= value < Decimal(100):
        raise ValueError("the rate must be at least 0 and below 100 %")
    return int(value * 100)


def format_rate(rate_bp: int) -> str:
    """Hundredths of a percent as the percent number: 2100 → "21", 2550 → "25.5"."""
    return format(Decimal(rate_bp) / 100, "f")


def load_rates_file(path: Path = RATES_FILE) -> RatesFile:
    """Read and check a rates file (the shape of ``travelsim/seed/vat_rates.json``). Raises
    ``ValueError`` naming what is wrong: not every EU member state, a code that is not one,
    a rate outside 0 < rate < 30 %, no source URL or compiled date."""
    data = json.loads(path.read_text(encoding="utf-8"))
    raw = data.get("rates") or {}
    codes = set(raw)
    if codes != EU_MEMBERS:
        missing, extra = sorted(EU_MEMBERS - codes), sorted(codes - EU_MEMBERS)
        raise ValueError(f"{path.name}: missing {missing}, not EU members {extra}")
    rates = {code: parse_rate(str(rate)) for code, rate in raw.items()}
    wrong = sorted(code for code, bp in rates.items() if not 0 < bp < 3000)
    if wrong:
        raise ValueError(f"{path.name}: rates outside 0 < rate < 30 % for {wrong}")
    source, compiled = str(data.get("source") or ""), str(data.get("compiled") or "")
    if not source.startswith("https://") or len(compiled) != 10:
        raise ValueError(f"{path.name}: a source URL and a compiled date are required")
    return RatesFile(rates, source, compiled)


@lru_cache(maxsize=1)
def shipped_rates() -> RatesFile:
    """The shipped rates file, read once (:func:`load_rates_file`)."""
    return load_rates_file()


async def rates_in_force(session: AsyncSession) -> dict[str, int]:
    """Every member state's rate now: the database's ``vat_rate`` rows over the shipped
    file (hundredths of a percent)."""
    stored = (await session.exec(select(VatRate))).all()
    return {**shipped_rates().rates, **{r.country: r.rate_bp for r in stored}}


def _code(value: str | None) -> str | None:
    text = (value or "").strip().upper()
    return text if len(text) == 2 and text.isalpha() else None


def decide(
    card_country: str | None,
    stated_country: str | None,
    *,
    home_country: str,
    rates: dict[str, int],
) -> TaxDecision:
    """The VAT of an order from its evidence (module docstring): the card's issuing country
    and the traveler's stated country (ISO alpha-2, any case; blank or malformed = not
    known), the seller's ``home_country`` and the ``rates`` in force. Raises ``KeyError``
    when ``rates`` lacks the country decided (the home country is checked at start-up)."""
    card, stated = _code(card_country), _code(stated_country)
    home = home_country.upper()
    if card is None or stated is None:
        country, rule = home, TaxRule.EVIDENCE_MISSING
    elif card != stated:
        country, rule = home, TaxRule.EVIDENCE_CONFLICT
    elif card not in EU_MEMBERS:
        return TaxDecision(card, 0, TaxRule.OUTSIDE_EU, card, stated)
    else:
        country, rule = card, TaxRule.EVIDENCE_AGREE
    return TaxDecision(country, rates[country], rule, card, stated)


def included_vat(gross_minor: int, rate_percent: Decimal) -> int:
    """VAT contained in a VAT-inclusive price, in minor units, rounded half up:
    ``included_vat(450, Decimal(21))`` = round(450 x 21 / 121) = 78; ``0`` for a rate ≤ 0."""
    if rate_percent <= 0:
        return 0
    exact = Decimal(gross_minor) * rate_percent / (Decimal(100) + rate_percent)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
