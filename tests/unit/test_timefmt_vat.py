from datetime import UTC, datetime
from decimal import Decimal

import pytest

from travelsim.services.order_creation import included_vat
from travelsim.timefmt import ago_text, duration_text, iso_utc, local_datetime


def test_local_time_named_and_dst_applied_for_the_date_shown() -> None:
    # Brussels: UTC+1 (CET) in winter, UTC+2 (CEST) after the last Sunday of March.
    winter = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)
    summer = datetime(2027, 3, 28, 13, 5, tzinfo=UTC)  # DST started 01:00 UTC that day
    assert local_datetime(winter, "Europe/Brussels") == "Thu 3 Dec 2026, 14:05 CET"
    assert local_datetime(summer, "Europe/Brussels") == "Sun 28 Mar 2027, 15:05 CEST"
    # New York leaves DST on the first Sunday of November (06:00 UTC in 2026).
    assert local_datetime(datetime(2026, 11, 1, 5, 59, tzinfo=UTC), "America/New_York") == (
        "Sun 1 Nov 2026, 01:59 EDT"
    )
    assert local_datetime(datetime(2026, 11, 1, 6, 0, tzinfo=UTC), "America/New_York") == (
        "Sun 1 Nov 2026, 01:00 EST"
    )


def test_unknown_zone_falls_back_to_utc_and_none_is_unknown() -> None:
    t = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)
    assert local_datetime(t, "Mars/Olympus") == "Thu 3 Dec 2026, 13:05 UTC"
    assert local_datetime(None, "Europe/Paris") == "unknown"
    with pytest.raises(ValueError):
        local_datetime(datetime(2026, 1, 1), "UTC")  # naive


def test_durations_and_ages() -> None:
    # CLDR short duration units in a CLDR unit list (English: "1 day, 2 hr, 3 min")
    assert duration_text(93784) == "1 day, 2 hr, 3 min"  # 86400 + 7200 + 180 + 4
    assert duration_text(86400 + 59) == "1 day, 0 hr, 0 min"
    assert duration_text(2520) == "42 min"
    assert duration_text(3 * 3600 + 60) == "3 hr, 1 min"
    assert duration_text(-5) == "0 min"
    assert duration_text(None) == "unknown"
    assert ago_text(30) == "just now"
    assert ago_text(300) == "5 minutes ago"  # Babel's relative time (CLDR)
    assert ago_text(None) == "never"
    assert iso_utc(datetime(2026, 12, 3, 13, 5, 9, tzinfo=UTC)) == "2026-12-03T13:05:09Z"


@pytest.mark.parametrize(
    ("gross", "rate", "vat"),
    [
        (450, Decimal(21), 78),  # 450 x 21 / 121 = 78.10
        (1290, Decimal(21), 224),  # 223.88 -> 224
        (1000, Decimal(0), 0),
        (1190, Decimal(19), 190),  # 1190 x 19 / 119 = 190 exactly
    ],
)
def test_vat_included_in_retail_price(gross: int, rate: Decimal, vat: int) -> None:
    assert included_vat(gross, rate) == vat


@pytest.mark.parametrize(
    ("zone_name", "utc", "expected"),
    [
        # Singapore is UTC+8 all year and has no abbreviation in the tz database ("+08").
        ("Asia/Singapore", datetime(2026, 12, 3, 13, 5, tzinfo=UTC), "Thu 3 Dec 2026, 21:05"),
        # Sao Paulo is UTC-3 (no DST since 2019), tz database abbreviation "-03".
        ("America/Sao_Paulo", datetime(2026, 12, 3, 13, 5, tzinfo=UTC), "Thu 3 Dec 2026, 10:05"),
    ],
)
def test_zone_without_abbreviation_is_named_by_its_city(
    zone_name: str, utc: datetime, expected: str
) -> None:
    city = {"Asia/Singapore": "Singapore", "America/Sao_Paulo": "São Paulo"}[zone_name]
    assert local_datetime(utc, zone_name) == f"{expected} {city} time"


def test_zone_with_abbreviation_keeps_it_in_winter_and_summer() -> None:
    assert local_datetime(datetime(2026, 1, 15, 9, 0, tzinfo=UTC), "Europe/Brussels") == (
        "Thu 15 Jan 2026, 10:00 CET"
    )
    assert local_datetime(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), "Europe/Brussels") == (
        "Wed 15 Jul 2026, 11:00 CEST"
    )


def test_fixed_offset_zone_without_a_city_shows_the_offset_from_utc() -> None:
    # POSIX sign convention: Etc/GMT-8 is UTC+8.
    assert local_datetime(datetime(2026, 12, 3, 13, 5, tzinfo=UTC), "Etc/GMT-8") == (
        "Thu 3 Dec 2026, 21:05 UTC+08"
    )
