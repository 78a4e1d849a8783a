from decimal import Decimal

import pytest

from travelsim.formatting import (
    decimal_to_minor,
    format_bytes,
    format_days,
    format_money,
    minor_to_decimal,
)
from travelsim.services import countries


def test_partial_names_and_every_match_is_returned() -> None:
    codes = [c.code for c in countries.search("united")]
    # ISO 3166-1 names or official names starting with "United": AE, GB, US, UM
    # (Minor Outlying Islands), TZ (United Republic of Tanzania), MX (United Mexican States);
    # then a later word: VI (Virgin Islands of the United States).
    assert set(codes) == {"AE", "GB", "US", "UM", "TZ", "MX", "VI"}
    assert codes[-1] == "VI"
    assert len(codes) == len(set(codes))


def test_accents_case_and_aliases() -> None:
    assert countries.search("cote d")[0].code == "CI"
    assert countries.search("JAPA")[0].code == "JP"
    assert countries.search("usa")[0].code == "US"
    assert countries.search("uk")[0].code == "GB"
    assert countries.search("fr")[0].code == "FR"  # ISO code matches exactly first


def test_search_restricted_to_sellable_destinations() -> None:
    assert [c.code for c in countries.search("united", within={"GB"})] == ["GB"]
    assert countries.search("", within=None) == []


def test_flag_is_regional_indicator_pair() -> None:
    # U+1F1EF U+1F1F5 is the flag of Japan.
    assert countries.flag("JP") == "\U0001f1ef\U0001f1f5"


def test_unknown_code_raises() -> None:
    with pytest.raises(KeyError):
        countries.country("XX")


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(990, "EUR", Decimal("9.90")), (500, "JPY", Decimal("500")), (1234, "KWD", Decimal("1.234"))],
)
def test_currency_minor_units_follow_iso4217(minor: int, currency: str, major: Decimal) -> None:
    assert minor_to_decimal(minor, currency) == major
    assert decimal_to_minor(str(major), currency) == minor


def test_sub_minor_precision_refused() -> None:
    with pytest.raises(ValueError):
        decimal_to_minor("9.999", "EUR")


def test_money_is_locale_formatted() -> None:
    assert format_money(990, "EUR") == "€9.90"
    assert format_money(500, "JPY") == "¥500"
    assert format_money(1299, "EUR", "de_DE") == "12,99\xa0€"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1_073_741_824, "1 GB"),  # 1 GB = 1024 x 1,048,576 bytes
        (1_610_612_736, "1.5 GB"),
        (524_288_000, "500 MB"),  # 500 x 1,048,576
        (21_474_836_480, "20 GB"),
        (0, "0 B"),
        (-5, "0 B"),  # never negative
        (None, "unknown"),
    ],
)
def test_bytes_in_platform_units(n: int | None, text: str) -> None:
    assert format_bytes(n) == text


def test_days() -> None:
    assert format_days(1) == "1 day"
    assert format_days(30) == "30 days"


def test_label_is_flag_and_name_or_the_code_itself() -> None:
    # Regional-indicator letters F (U+1F1EB) and R (U+1F1F7) make the French flag.
    assert countries.label("fr") == "\U0001f1eb\U0001f1f7 France"
    assert countries.label("ZZ") == "ZZ"
    assert countries.label(None) == "" and countries.label("") == ""
