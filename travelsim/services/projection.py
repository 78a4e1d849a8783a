"""When will the data run out at the traveler's recent pace? Pure functions, no I/O.

Rule (a project choice, docs/esim.md#balance-and-validity: the eSIM page shows remaining data
and validity, and this adds a forecast on top of them):

* **Pace** = the mean of the last :data:`PACE_DAYS` (3) *completed* UTC days **with usage**
  (bytes > 0) among the :data:`LOOKBACK_DAYS` (14) days before ``now``'s UTC day. The current
  UTC day is left out because it is incomplete and its usage is still being rated (figures
  lag, docs/sft-platform.md#get-endpoint-add-on-details). Days without usage are skipped so that a
  day without travel does not halve the pace.
* **Run-out** = ``now + remaining_bytes / pace`` days (86,400 s per day).
* **Before expiry** = run-out strictly earlier than ``expires_at`` (``None`` when the expiry is
  unknown, e.g. an On Usage add-on whose clock has not started).
* No projection (``None``) when the remaining data is unknown or already 0, when there is no
  usage day in the look-back window, or when the add-on has already expired.

Example: usage 1,073,741,824 / 536,870,912 / 536,870,912 bytes on the three previous days
→ pace 715,827,882.67 B/day; 2,147,483,648 B remaining → run-out exactly 3 days after ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["LOOKBACK_DAYS", "PACE_DAYS", "Projection", "project_run_out", "recent_pace"]

#: How many recent days with usage make the pace.
PACE_DAYS = 3
#: How far back (completed days before today) usage days are looked for.
LOOKBACK_DAYS = 14

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Projection:
    """A run-out forecast.

    Attributes:
        pace_bytes_per_day: mean bytes per day over ``pace_days`` (float, > 0).
        pace_days: the UTC days the pace was computed from (1 to :data:`PACE_DAYS`), oldest
            first.
        run_out_at: aware UTC datetime when ``remaining_bytes`` would be used up at that pace.
        days_left: ``(run_out_at - now)`` in days (float, > 0).
        expires_at: the expiry compared against (aware UTC) or ``None`` if unknown.
        before_expiry: True if the data runs out strictly before ``expires_at``; ``None`` when
            the expiry is unknown.
    """

    pace_bytes_per_day: float
    pace_days: tuple[date, ...]
    run_out_at: datetime
    days_left: float
    expires_at: datetime | None
    before_expiry: bool | None


def _as_mapping(daily: Mapping[date, int] | Iterable[tuple[date, int]]) -> dict[date, int]:
    if isinstance(daily, Mapping):
        return dict(daily)
    out: dict[date, int] = {}
    for day, nbytes in daily:
        out[day] = out.get(day, 0) + nbytes
    return out


def recent_pace(
    daily: Mapping[date, int] | Iterable[tuple[date, int]],
    today: date,
    *,
    pace_days: int = PACE_DAYS,
    lookback_days: int = LOOKBACK_DAYS,
) -> tuple[float, tuple[date, ...]] | None:
    """Mean bytes/day over the last ``pace_days`` completed UTC days with usage.

    Args:
        daily: bytes used per UTC day (mapping, or ``(day, bytes)`` pairs; duplicates add up).
        today: the current UTC day (excluded: incomplete and not fully rated).
        pace_days: how many days with usage to average (>= 1).
        lookback_days: only days in ``[today - lookback_days, today - 1]`` count.

    Returns ``(bytes_per_day, days_used_oldest_first)`` or ``None`` without any usage day.
    Raises ``ValueError`` if ``pace_days`` or ``lookback_days`` is < 1.
    """
    if pace_days < 1 or lookback_days < 1:
        raise ValueError("pace_days and lookback_days must be >= 1")
    usage = _as_mapping(daily)
    first = today - timedelta(days=lookback_days)
    candidates = sorted(
        (d for d, b in usage.items() if first <= d < today and b > 0), reverse=True
    )[:pace_days]
    if not candidates:
        return None
    days = tuple(sorted(candidates))
    return sum(usage[d] for d in days) / len(days), days


def project_run_out(
    daily: Mapping[date, int] | Iterable[tuple[date, int]],
    remaining_bytes: int | None,
    expires_at: datetime | None,
    *,
    now: datetime,
    pace_days: int = PACE_DAYS,
    lookback_days: int = LOOKBACK_DAYS,
) -> Projection | None:
    """Projected run-out of ``remaining_bytes`` at the recent pace (see the module rule).

    Args:
        daily: bytes used per UTC day (``UsageDay`` rows as a mapping or pairs).
        remaining_bytes: bytes left, ``None`` if unknown.
        expires_at: aware UTC expiry of the data being projected, ``None`` if unknown.
        now: aware UTC "now"; its UTC date is "today".

    Returns a :class:`Projection`, or ``None`` when remaining is unknown or <= 0, there is no
    recent usage, or ``expires_at`` is not after ``now``. Raises ``ValueError`` for a naive
    ``now``/``expires_at`` or bad window sizes.
    """
    if now.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        raise ValueError("use aware UTC datetimes")
    if remaining_bytes is None or remaining_bytes <= 0:
        return None
    if expires_at is not None and expires_at <= now:
        return None
    pace = recent_pace(daily, _utc_date(now), pace_days=pace_days, lookback_days=lookback_days)
    if pace is None:
        return None
    per_day, days = pace
    days_left = remaining_bytes / per_day
    run_out = now + timedelta(seconds=days_left * SECONDS_PER_DAY)
    return Projection(
        pace_bytes_per_day=per_day,
        pace_days=days,
        run_out_at=run_out,
        days_left=days_left,
        expires_at=expires_at,
        before_expiry=None if expires_at is None else run_out < expires_at,
    )


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
