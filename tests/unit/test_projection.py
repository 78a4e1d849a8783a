"""Run-out projection: expected values computed by hand from the documented rule
(mean of the last 3 completed UTC days with usage; run-out = now + remaining / pace)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from travelsim.services.projection import project_run_out, recent_pace

GB = 1_073_741_824
MB = 1_048_576
NOW = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)


def test_mean_of_last_three_days_with_usage() -> None:
    daily = {
        date(2026, 7, 5): 4 * GB,  # older than the last three usage days: ignored
        date(2026, 7, 7): 1 * GB,
        date(2026, 7, 8): 0,  # no usage: skipped
        date(2026, 7, 9): 512 * MB,
        date(2026, 7, 6): 512 * MB,
        date(2026, 7, 10): 10 * GB,  # today: incomplete, ignored
    }
    pace = recent_pace(daily, date(2026, 7, 10))
    assert pace is not None
    per_day, days = pace
    # (512 MB + 1024 MB + 512 MB) / 3 = 2048 MB / 3 = 715,827,882.666... bytes/day
    assert per_day == pytest.approx(2 * GB / 3)
    assert days == (date(2026, 7, 6), date(2026, 7, 7), date(2026, 7, 9))


def test_run_out_three_days_ahead_before_expiry() -> None:
    daily = [
        (date(2026, 7, 7), 1 * GB),
        (date(2026, 7, 8), 512 * MB),
        (date(2026, 7, 9), 512 * MB),
    ]
    expires = datetime(2026, 7, 14, 12, 0, tzinfo=UTC)
    p = project_run_out(daily, 2 * GB, expires, now=NOW)
    assert p is not None
    # pace 2 GB / 3 per day; 2 GB left -> 3 days -> 13 July 12:00 UTC, before 14 July.
    assert p.days_left == pytest.approx(3.0)
    assert abs(p.run_out_at - datetime(2026, 7, 13, 12, 0, tzinfo=UTC)) < timedelta(seconds=1)
    assert p.before_expiry is True


def test_run_out_after_expiry() -> None:
    daily = {date(2026, 7, 9): 100 * MB}
    expires = datetime(2026, 7, 12, 0, 0, tzinfo=UTC)
    p = project_run_out(daily, 500 * MB, expires, now=NOW)
    assert p is not None
    # 500 MB at 100 MB/day -> 5 days -> 15 July 12:00, after the 12 July expiry.
    assert p.run_out_at == datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert p.before_expiry is False


def test_fewer_than_three_usage_days_and_duplicates_add_up() -> None:
    daily = [(date(2026, 7, 9), 300 * MB), (date(2026, 7, 9), 100 * MB)]
    p = project_run_out(daily, 800 * MB, None, now=NOW)
    assert p is not None
    # one day, 400 MB -> 800 MB lasts 2 days; expiry unknown -> before_expiry None.
    assert p.pace_bytes_per_day == 400 * MB
    assert p.run_out_at == NOW + timedelta(days=2)
    assert p.before_expiry is None


@pytest.mark.parametrize(
    ("daily", "remaining", "expires"),
    [
        ({date(2026, 7, 9): GB}, None, None),  # remaining unknown
        ({date(2026, 7, 9): GB}, 0, None),  # nothing left
        ({}, GB, None),  # no usage at all
        ({date(2026, 7, 10): GB}, GB, None),  # only today's (incomplete) usage
        ({date(2026, 6, 20): GB}, GB, None),  # older than the 14-day look-back
        ({date(2026, 7, 9): GB}, GB, NOW),  # already expired
    ],
)
def test_no_projection(
    daily: dict[date, int], remaining: int | None, expires: datetime | None
) -> None:
    assert project_run_out(daily, remaining, expires, now=NOW) is None


def test_naive_datetimes_refused() -> None:
    with pytest.raises(ValueError):
        project_run_out({}, GB, None, now=datetime(2026, 7, 10))
