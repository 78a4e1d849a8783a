"""The eSIM page's words: a :class:`~travelsim.services.esim_dashboard.Dashboard` turned into
the values :class:`~travelsim.state.esim.EsimState` shows (gauges, callouts, plan rows, the
daily chart). Pure functions, no Reflex, no I/O: dates in the viewer's zone ``tz`` (IANA name,
named: docs/esim.md#time-zone-names), bytes in the page's units
(:mod:`travelsim.formatting`), unknown never shown as 0 (docs/esim.md#f9-usage-lag).

Every text is in the active language (docs/i18n.md#texts-made-at-run-time): the state calls
:func:`page_values` from its handlers, which run with the page's language active. Module
constants are marked with ``N_`` and translated where they are shown; relative ages come from
Babel (:func:`travelsim.timefmt.ago_text`), day names and numbers from CLDR in the active locale.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_skeleton
from babel.numbers import format_decimal

from travelsim import urls
from travelsim.formatting import data_left, format_bytes, format_days, left_count
from travelsim.i18n import N_, _, format_locale, localized, ngettext
from travelsim.models import AddonState
from travelsim.services import countries
from travelsim.services.esim_dashboard import AddonView, Dashboard
from travelsim.timefmt import ago_text, duration_text, iso_utc, local_datetime

__all__ = [
    "GAUGE_WORDS",
    "INSTALL_LABELS",
    "INSTALL_OK",
    "INSTALL_PROBLEM",
    "REFUNDED",
    "STATE_LABELS",
    "SUSPENDED_BY_STAFF",
    "addon_row",
    "data_words",
    "ended_text",
    "install_label",
    "page_values",
    "state_label",
]

#: A plan's state badge (English msgids: :func:`state_label` translates them).
STATE_LABELS: dict[str, str] = {
    AddonState.WAITING: N_("waiting"),
    AddonState.ACTIVE: N_("active"),
    AddonState.USED_UP: N_("used up"),
    AddonState.EXPIRED: N_("expired"),
    AddonState.DEACTIVATED: N_("removed"),
    AddonState.UNKNOWN: N_("unknown"),
}
#: The install state in words (English msgids: :func:`install_label` translates them).
INSTALL_LABELS = {
    "ready": N_("Not installed yet"),
    "downloaded": N_("Downloaded to a phone"),
    "installed": N_("Installed"),
    "deleted": N_("Deleted from the phone"),
    "error": N_("Installation error"),
    "unknown": N_("Install status unknown"),
}
#: Calm words for a profile that is on the phone (good news: the code was used once;
#: docs/esim.md#single-use-codes).
INSTALL_OK = {
    "installed": N_("Installed on your phone. Keep it: the code works only once."),
    "downloaded": N_(
        "Downloaded to your phone: finish installing it there. Keep it: the code works only once."
    ),
}
#: Why a replacement may be needed (offered prominently only in these states).
INSTALL_PROBLEM = {
    "deleted": N_(
        "The network reports this eSIM as deleted from your phone. Its QR code has been "
        "used and will not work again."
    ),
    "error": N_(
        "The network reports an installation error. Do not retry with the same code: "
        "it works only once."
    ),
}
#: The data gauge per data state: (centre line, line below it, full text for everyone).
#: (English msgids, translated where shown).
GAUGE_WORDS = {
    "unknown": (
        N_("unknown"),
        N_("data left"),
        N_("Remaining data unknown: not reported by the network yet"),
    ),
    "used_up": (N_("used up"), N_("no data left"), N_("No data left: used up")),
    "expired": (N_("expired"), N_("no data left"), N_("No data left: the plan expired")),
    "no_plan": (N_("no plan"), N_("no data left"), N_("No data left: no data plan on this eSIM")),
}
WATCH_SECONDS = 15 * 60
#: What a staff-suspended eSIM says, once (docs/business-rules.md#staff-suspension).
SUSPENDED_BY_STAFF = N_("This eSIM is suspended. Please contact support to resume it.")
#: ... and when the suspension came with a refund (docs/business-rules.md#voids-and-refunds).
REFUNDED = N_("This eSIM's order was refunded; it no longer works.")


def state_label(state: str) -> str:
    """A plan state (:class:`~travelsim.models.AddonState` value) as its badge word in the
    active language (``"used_up"`` → French ``"épuisé"``); an unknown value as is."""
    return _(STATE_LABELS[state]) if state in STATE_LABELS else state


def install_label(install: str) -> str:
    """An install state (:data:`~travelsim.esim.lifecycle.InstallState`) in words, in the
    active language (``"ready"`` → ``"Not installed yet"`` in English); an unknown value as
    is."""
    return _(INSTALL_LABELS[install]) if install in INSTALL_LABELS else install


def day_text(day: date) -> str:
    """A day of the usage chart, month abbreviated, in the active locale's own order (CLDR
    skeleton ``MMMd``): ``"Jul 2"`` in English, ``"2 juil."`` in French."""
    return format_skeleton("MMMd", day, locale=format_locale())


def _percent(value: float) -> str:
    """A percentage figure (no sign) with the active locale's decimal sign: ``99,8``."""
    return format_decimal(value, locale=format_locale())


def data_words(remaining: int | None, total: int | None, percent: float | None) -> str:
    """``"18.98 GB of 19 GB left (99.8 %)"`` (in the active language) for known live figures
    (the shown figures never contradict each other, :func:`travelsim.formatting.data_left`),
    else ``""``."""
    if remaining is None or total is None or percent is None:
        return ""
    left, of = data_left(remaining, total)
    words = ngettext(
        "{left} of {total} left ({percent} %)",
        "{left} of {total} left ({percent} %)",
        left_count(remaining, total),
    )
    return words.format(left=left, total=of, percent=_percent(percent))


def page_values(d: Dashboard, tz: str) -> dict[str, Any]:
    """Every value :class:`~travelsim.state.esim.EsimState` shows for ``d``, by var name, with
    dates in ``tz`` (the support contact of a suspended eSIM excepted: read by the state)."""
    return {
        "not_found": False,
        "loaded": True,
        **_identity(d),
        **_install(d),
        **_data(d, tz),
        **_validity(d, tz),
        **_freshness(d, tz),
        **_plans(d, tz),
        **_daily(d),
    }


def _identity(d: Dashboard) -> dict[str, Any]:
    """Name, destination, links and whether staff suspended it."""
    return {
        "title": d.title,
        "iccid": d.iccid,
        "destination": countries.label(d.destination),
        "endpoint_status": d.endpoint_status or "unknown",
        "install_url": localized(urls.install(d.esim_id)),
        "topup_url": localized(urls.topup(d.esim_id)),
        "suspended_by_staff": d.suspended_by_staff,
        "suspended_text": (
            _(REFUNDED if d.refunded else SUSPENDED_BY_STAFF) if d.suspended_by_staff else ""
        ),
    }


def _install(d: Dashboard) -> dict[str, Any]:
    """The install status: good news, a problem (with a prominent replacement) or the way to
    install."""
    return {
        "install": d.install,
        "install_label": install_label(d.install),
        "qr_used": d.qr_used,
        "can_request_replacement": d.can_request_replacement,
        "replacement_open": d.replacement_open,
        "install_problem": d.install_problem,
        "install_problem_text": (
            _(INSTALL_PROBLEM[d.install])
            if d.install_problem and d.install in INSTALL_PROBLEM
            else ""
        ),
        "install_ok_text": (
            _(INSTALL_OK[d.install]) if not d.install_problem and d.install in INSTALL_OK else ""
        ),
    }


def _data(d: Dashboard, tz: str) -> dict[str, Any]:
    """The data gauge and the "no data left" callout."""
    out: dict[str, Any] = {"data_state": d.data_state, "usage_known": d.updated_at is not None}
    live_figures = data_words(d.remaining_bytes, d.total_bytes, d.percent_remaining)
    if d.data_state == "live" and live_figures:
        left, of = data_left(d.remaining_bytes or 0, d.total_bytes or 0)
        out.update(known=True, percent=float(d.percent_remaining or 0.0))
        out.update(
            gauge_top=left,
            gauge_bottom=ngettext(
                "of {total} left",
                "of {total} left",
                left_count(d.remaining_bytes or 0, d.total_bytes or 0),
            ).format(total=of),
            data_text=live_figures,
        )
    else:
        # Nothing left is a known 0 %; unknown draws an empty ring and says so.
        out.update(known=d.data_state in ("used_up", "expired", "no_plan"), percent=0.0)
        top, bottom, text = GAUGE_WORDS.get(d.data_state, GAUGE_WORDS["unknown"])
        out.update(gauge_top=_(top), gauge_bottom=_(bottom), data_text=_(text))
    # A staff-suspended eSIM cannot take more data: no "buy more" callout.
    out["ended_text"] = "" if d.suspended_by_staff else ended_text(d, tz)
    return out


def _validity(d: Dashboard, tz: str) -> dict[str, Any]:
    """The validity gauge and what starts (or started) the plan's clock."""
    left = duration_text(d.time_left_seconds) if d.expires_at else ""
    out: dict[str, Any] = {
        "expires_iso": iso_utc(d.expires_at),
        "expires_text": (
            _("Expires {when}").format(when=local_datetime(d.expires_at, tz))
            if d.expires_at
            else ""
        ),
        "time_left_text": _("{duration} left").format(duration=left) if left else "",
    }
    validity_days = d.current.validity_days if d.current else None
    if d.time_left_seconds is not None and validity_days:
        out["validity_percent"] = round(
            min(100.0, 100.0 * d.time_left_seconds / (validity_days * 86400)), 1
        )
    else:
        out["validity_percent"] = 0.0
    if d.data_state == "unknown":
        out.update(validity_top=_("unknown"), validity_value=_("validity not reported yet"))
        out["validity_bottom"] = _("validity")
        out["clock_text"] = _("Validity not reported by the network yet.")
    elif d.current is None:
        out.update(validity_top=_("ended"), validity_value=_("no plan running"))
        out["validity_bottom"] = _("no plan running")
        out["clock_text"] = _("No data plan is running on this eSIM.")
    else:
        out.update(validity_top=_("not started"), validity_value=_("validity not started"))
        out["validity_bottom"] = _("validity left")
        out["clock_text"] = _clock_text(d)
    return out


def _clock_text(d: Dashboard) -> str:
    if d.clock_started:
        if d.clock_starts == "first_use":
            return _("Validity started at your first use.")
        return _("Validity started at purchase.")
    if d.clock_starts == "first_use":
        return _("Validity starts at your first data use at the destination.")
    return _("Validity starts at purchase.")


def _freshness(d: Dashboard, tz: str) -> dict[str, Any]:
    """When the figures were read, whether they are old or the last read failed, and the
    run-out forecast."""
    if d.updated_at is None:
        updated = _("Figures not received from the network yet")
    else:
        updated = _("Updated {when} ({ago})").format(
            when=local_datetime(d.updated_at, tz), ago=ago_text(d.figures_age_seconds)
        )
    out: dict[str, Any] = {
        "updated_text": updated,
        "stale": d.figures_stale,
        "last_error": _("The last update failed; figures may be older.") if d.last_error else "",
        "projection_text": "",
        "projection_warning": False,
    }
    p = d.projection
    if p is not None:
        when = local_datetime(p.run_out_at, tz)
        pace = format_bytes(round(p.pace_bytes_per_day))
        if p.before_expiry:
            out["projection_text"] = _(
                "At your recent pace ({pace}/day) your data runs out around {when}, "
                "before the plan expires."
            ).format(pace=pace, when=when)
            out["projection_warning"] = True
        else:
            out["projection_text"] = _(
                "At your recent pace ({pace}/day) your data lasts until the plan expires."
            ).format(pace=pace)
    return out


def _plans(d: Dashboard, tz: str) -> dict[str, Any]:
    """One row per plan (:func:`addon_row`), in the dashboard's order."""
    running = any(a.state == AddonState.ACTIVE for a in d.addons)
    return {"addons": [addon_row(a, tz, running) for a in d.addons]}


def _daily(d: Dashboard) -> dict[str, Any]:
    """The bars of data used per day, the busiest day and a sentence for screen readers."""
    peak = max((pt.bytes for pt in d.daily_usage), default=0)
    daily = [
        {
            "day": day_text(pt.day),
            # Bar height in % of the busiest day (a used day shows at least a sliver).
            "height": f"{max(2.0, 100 * pt.bytes / peak) if pt.bytes else 0:.1f}%",
            "label": _("{day}: {volume}").format(
                day=day_text(pt.day), volume=format_bytes(pt.bytes)
            ),
        }
        for pt in d.daily_usage
    ]
    summary = ""
    if peak and d.daily_usage:
        total = sum(pt.bytes for pt in d.daily_usage)
        summary = _("{total} used from {first} to {last}; busiest day {peak}").format(
            total=format_bytes(total),
            first=daily[0]["day"],
            last=daily[-1]["day"],
            peak=format_bytes(peak),
        )
    return {
        "daily": daily,
        "daily_peak_text": (
            _("Busiest day: {volume}").format(volume=format_bytes(peak)) if peak else ""
        ),
        "daily_summary": summary,
    }


def ended_text(d: Dashboard, tz: str) -> str:
    """What the "no data left" callout says ("" while data is live or unknown)."""
    if d.data_state == "used_up":
        return _("All the data on this eSIM is used up.")
    if d.data_state == "expired":
        ended = d.last_plan.expires_at if d.last_plan else None
        if ended is None:
            return _("Your data plan expired.")
        return _("Your data plan expired on {date}.").format(date=local_datetime(ended, tz))
    if d.data_state == "no_plan":
        return _("There is no data plan on this eSIM.")
    return ""


def addon_row(a: AddonView, tz: str, running: bool) -> dict[str, str]:
    """One plan row: state, data and validity in words. A plan that ended says how
    (used up, expired on its date, removed), never a future-sounding "until"."""
    validity, data = _ended_row(a, tz) if a.state in _ENDED_ROW else _live_row(a, tz)
    if a.state == AddonState.WAITING and not running and a.queue_position == 1:
        label = _("not started yet")  # the next one to start; nothing runs before it
    elif a.queue_position:  # only waiting plans have a place in the queue
        label = _("waiting (#{position} in line)").format(position=a.queue_position)
    else:
        label = state_label(a.state)
    return {
        "unique_id": a.unique_id,
        "name": a.plan_name or a.plan_id,
        "state": a.state,
        "state_label": label,
        "data": data,
        "validity": validity,
        "current": "yes" if a.is_current else "",
    }


_ENDED_ROW = frozenset(
    {AddonState.USED_UP, AddonState.EXPIRED, AddonState.DEACTIVATED, AddonState.UNKNOWN}
)


def _all_used(a: AddonView) -> str:
    if a.initial_bytes:
        return _("all {volume} used").format(volume=format_bytes(a.initial_bytes))
    return _("all used")


def _ended_row(a: AddonView, tz: str) -> tuple[str, str]:
    """``(validity, data)`` of a plan that no longer gives data: how it ended."""
    known = a.remaining_bytes is not None and a.initial_bytes is not None
    if a.state == AddonState.USED_UP:
        return _("used up"), _all_used(a)
    if a.state == AddonState.DEACTIVATED:
        return _("removed"), _("removed")
    if a.state == AddonState.UNKNOWN:
        return _("not reported by the network"), _("data unknown")
    if a.expires_at:
        validity = _("expired {date}").format(date=local_datetime(a.expires_at, tz))
    else:
        validity = _("expired")
    if known and (a.remaining_bytes or 0) > 0:
        left, of = data_left(a.remaining_bytes or 0, a.initial_bytes or 0)
        n = left_count(a.remaining_bytes or 0, a.initial_bytes or 0)
        unused = ngettext("{left} of {total} unused", "{left} of {total} unused", n)
        return validity, unused.format(left=left, total=of)
    return validity, (_all_used(a) if known else _("data unknown"))


def _live_row(a: AddonView, tz: str) -> tuple[str, str]:
    """``(validity, data)`` of a running or waiting plan."""
    if a.remaining_bytes is not None and a.initial_bytes is not None:
        left, of = data_left(a.remaining_bytes, a.initial_bytes)
        n = left_count(a.remaining_bytes, a.initial_bytes)
        data = ngettext("{left} of {total} left", "{left} of {total} left", n).format(
            left=left, total=of
        )
    else:
        data = _("data unknown")
    return _live_validity(a, tz), data


def _live_validity(a: AddonView, tz: str) -> str:
    """A running or waiting plan's validity: until its expiry, else how long from what
    (the days through the catalog's plural rule, :func:`travelsim.formatting.format_days`)."""
    if a.expires_at is not None:
        return _("until {date}").format(date=local_datetime(a.expires_at, tz))
    if a.validity_days:
        days = format_days(a.validity_days)
        if a.clock_starts == "first_use":
            return _("{days} from first use").format(days=days)
        return _("{days} from activation").format(days=days)
    return _("validity unknown")
