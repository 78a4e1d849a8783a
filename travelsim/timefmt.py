"""Datetimes for travelers: stored in UTC, shown in the viewer's own time zone, named.

The browser reports its IANA zone (``Intl.DateTimeFormat().resolvedOptions().timeZone``);
the server converts with :mod:`zoneinfo`, so daylight-saving changes are applied for the
date being shown, not for today (docs/esim.md#time-zone-names,
docs/esim.md#f8-time-zone-confusion).

The zone is named by its abbreviation when the tz database has one ("CET", "CEST", "EDT");
many zones have none (Singapore is "+08", Sao Paulo "-03"), and those are named after their
city from the CLDR data shipped with Babel ("Singapore time", "São Paulo time"). Zones with
neither (``Etc/GMT-8``) show the offset ("UTC+08").

Texts are in the active language (``travelsim.i18n``): English as shown here, other languages
with CLDR's day and month names and the city in that language ("jeu. 3 déc. 2026, 14:05 CET",
"heure : Singapour"), docs/i18n.md#formats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, format_timedelta, get_timezone_location
from babel.lists import format_list
from babel.units import format_unit

from travelsim import i18n


def zone(name: str | None) -> ZoneInfo:
    """The zone called ``name``; UTC for unknown or empty names."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_datetime(value: datetime | None, tz_name: str | None) -> str:
    """``2026-12-03T13:05Z`` in ``Europe/Brussels`` → ``"Thu 3 Dec 2026, 14:05 CET"``;
    ``None`` → ``"unknown"``. Raises ``ValueError`` for naive datetimes."""
    if value is None:
        return i18n._("unknown")
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    local = value.astimezone(zone(tz_name))
    if i18n.current() == i18n.DEFAULT:
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {zone_label(local)}"
    shown = format_datetime(local, "EEE d MMM y, HH:mm", locale=i18n.format_locale())
    return f"{shown} {zone_label(local)}"


def zone_label(local: datetime) -> str:
    """How the zone of the aware datetime ``local`` is named for a reader: its abbreviation
    (``"CET"``), else ``"<city> time"`` (``"Singapore time"``), else ``"UTC+08"``."""
    abbrev = local.tzname() or "UTC"
    if abbrev.isalpha():
        return abbrev
    key = getattr(local.tzinfo, "key", "") or ""
    city = _city(key, i18n.format_locale())
    if city:
        return i18n._("{city} time").format(city=city)
    return abbrev if abbrev.startswith("UTC") else f"UTC{abbrev}"


@lru_cache(maxsize=256)
def _city(key: str, locale: str = "en_US") -> str:
    """The CLDR city of the IANA zone ``key`` in ``locale`` (``"Asia/Ho_Chi_Minh"`` →
    ``"Ho Chi Minh City"``); ``""`` for zones that are not a place (``Etc/...``, ``UTC``)."""
    if "/" not in key or key.startswith("Etc/"):
        return ""
    try:
        return str(get_timezone_location(key, locale=locale, return_city=True))
    except (LookupError, ValueError):
        return key.rsplit("/", 1)[-1].replace("_", " ")


def duration_text(seconds: int | None) -> str:
    """A time span in CLDR's short duration units, listed as the active language lists units
    (docs/i18n.md#formats): ``93784`` → ``"1 day, 2 hr, 3 min"`` (French
    ``"1 j, 2 h et 3 min"``, German ``"1 Tg., 2 Std. und 3 Min."``); under a day hours and
    minutes, under an hour ``"42 min"``; negative → ``"0 min"``; ``None`` → ``"unknown"``."""
    if seconds is None:
        return i18n._("unknown")
    days, rem = divmod(max(0, int(seconds)), 86400)
    hours, rem = divmod(rem, 3600)
    amounts = [(days, "duration-day"), (hours, "duration-hour"), (rem // 60, "duration-minute")]
    first = 0 if days else 1 if hours else 2
    loc = i18n.format_locale()
    parts = [format_unit(n, unit, length="short", locale=loc) for n, unit in amounts[first:]]
    return _unit_list(parts, loc)


def _unit_list(parts: list[str], loc: str) -> str:
    """``parts`` joined as CLDR lists units in ``loc``. Babel 2.19 lacks the three-item
    unit-list patterns of some locales (``de_DE``, ``es_ES``: ``KeyError: 'start'``); their
    standard list pattern is used then."""
    try:
        return str(format_list(parts, style="unit-short", locale=loc))
    except KeyError:
        return str(format_list(parts, style="standard", locale=loc))


def ago_text(seconds: int | None) -> str:
    """How long ago something happened, ``seconds`` (>= 0) before now, in the active
    language: under a minute ``"just now"`` (catalog), else Babel's relative time from CLDR
    in :func:`travelsim.i18n.format_locale` (``125`` → ``"2 minutes ago"``, French
    ``"il y a 2 minutes"``); ``None`` → ``"never"``."""
    if seconds is None:
        return i18n._("never")
    if seconds < 60:
        return i18n._("just now")
    return str(
        format_timedelta(
            timedelta(seconds=-seconds), add_direction=True, locale=i18n.format_locale()
        )
    )


def iso_utc(value: datetime | None) -> str:
    """ISO 8601 in UTC with ``Z`` (for client-side countdowns), ``""`` for ``None``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
