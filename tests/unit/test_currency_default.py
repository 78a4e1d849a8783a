"""The default currency of a traveler who never chose one (docs/i18n.md#currencies)."""

from __future__ import annotations

import pytest

from travelsim.routes.currency import chosen_currency, default_currency

ALL = ["EUR", "USD", "GBP"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "USD"),
        ("en-GB,en;q=0.8", "GBP"),
        ("en_GB", "GBP"),
        ("fr-FR,fr;q=0.9,en-US;q=0.8", "EUR"),
        ("de-DE", "EUR"),
        ("es", "EUR"),
        ("en", "EUR"),
        ("it-IT", "EUR"),
        ("", "EUR"),
        (None, "EUR"),
        ("fr;q=0.5, en-GB;q=0.9", "GBP"),  # the weights decide, not the order
        ("en-US;q=0, de", "EUR"),  # q=0 means "not this one"
        ("zh-Hant-US", "USD"),  # the region subtag after a script subtag
    ],
)
def test_the_region_of_the_preferred_language_decides(header: str | None, expected: str) -> None:
    assert default_currency(header, ALL) == expected


def test_only_an_offered_currency_is_answered() -> None:
    assert default_currency("en-GB", ["EUR", "USD"]) == "EUR"
    assert default_currency("en-GB", ["USD"]) == "USD"


def test_the_cookie_wins_when_it_names_an_offered_currency() -> None:
    assert chosen_currency("gbp", "en-US") == "GBP"
    assert chosen_currency("JPY", "en-US") == "USD"
    assert chosen_currency(None, "de-DE") == "EUR"
