"""The eSIM page's words: a :class:`~travelsim.services.esim_dashboard.Dashboard` turned into
the values :class:`~travelsim.state.esim.EsimState` shows (gauges, callouts, plan rows, the
daily chart). Pure functions, no Reflex, no I/O: dates in the viewer's zone ``tz`` (IANA name,
named: docs/esim.md#time-zone-names), bytes in the page's units
(:mod:`travelsim.formatting`), unknown never shown as 0 (docs/esim.md#f9-usage-lag).
"""

from __future__ import annotations

from typing import Any

from travelsim import urls
from travelsim.formatting import data_left, format_bytes
from travelsim.i18n import N_
from travelsim.models import AddonState
from travelsim.services import countries
from travelsim.services.esim_dashboard import AddonView, Dashboard
from travelsim.timefmt import age_text, duration_text, iso_utc, local_datetime

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
    "page_values",
]

STATE_LABELS: dict[str, str] = {
    AddonState.WAITING: "waiting",
    AddonState.ACTIVE: "active",
    AddonState.USED_UP: "used up",
    AddonState.EXPIRED: "expired",
    AddonState.DEACTIVATED: "removed",
    AddonState.UNKNOWN: "unknown",
}
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
    "installed": "Installed on your phone. Keep it: the code works only once.",
    "downloaded": (
        "Downloaded to your phone: finish installing it there. Keep it: the code works only once."
    ),
}
#: Why a replacement may be needed (offered prominently only in these states).
INSTALL_PROBLEM = {
    "deleted": (
        "The network reports this eSIM as deleted from your phone. Its QR code has been "
        "used and will not work again."
    ),
    "error": (
        "The network reports an installation error. Do not retry with the same code: "
        "it works only once."
    ),
}
#: The data gauge per data state: (centre line, line below it, full text for everyone).
GAUGE_WORDS = {
    "unknown": ("unknown", "data left", "Remaining data unknown: not reported by the network yet"),
    "used_up": ("used up", "no data left", "No data left: used up"),
    "expired": ("expired", "no data left", "No data left: the plan expired"),
    "no_plan": ("no plan", "no data left", "No data left: no data plan on this eSIM"),
}
WATCH_SECONDS = 15 * 60
#: What a staff-suspended eSIM says, once (docs/business-rules.md#staff-suspension).
SUSPENDED_BY_STAFF = "This eSIM is suspended. Please contact support to resume it."
#: ... and when the suspension came with a refund (docs/business-rules.md#voids-and-refunds).
REFUNDED = "This eSIM's order was refunded; it no longer works."


def data_words(remaining: int | None, total: int | None, percent: float | None) -> str:
    """``"18.98 GB of 19 GB left (99.8 %)"`` for known live figures (the shown figures never
    contradict each other, :func:`travelsim.formatting.data_left`), else ``""``."""
    if remaining is None or total is None or percent is None:
        return ""
    left, of = data_left(remaining, total)
    return f"{left} of {of} left ({percent:g} %)"


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
        "install_url": urls.install(d.esim_id),
        "topup_url": urls.topup(d.esim_id),
        "suspended_by_staff": d.suspended_by_staff,
        "suspended_text": (
            (REFUNDED if d.refunded else SUSPENDED_BY_STAFF) if d.suspended_by_staff else ""
        ),
    }


def _install(d: Dashboard) -> dict[str, Any]:
    """The install status: good news, a problem (with a prominent replacement) or the way to
    install."""
    return {
        "install": d.install,
        "install_label": INSTALL_LABELS.get(d.install, d.install),
        "qr_used": d.qr_used,
        "can_request_replacement": d.can_request_replacement,
        "replacement_open": d.replacement_open,
        "install_problem": d.install_problem,
        "install_problem_text": INSTALL_PROBLEM.get(d.install, "") if d.install_problem else "",
        "install_ok_text": "" if d.install_problem else INSTALL_OK.get(d.install, ""),
    }


def _data(d: Dashboard, tz: str) -> dict[str, Any]:
    """The data gauge and the "no data left" callout."""
    out: dict[str, Any] = {"data_state": d.data_state, "usage_known": d.updated_at is not None}
    live_figures = data_words(d.remaining_bytes, d.total_bytes, d.percent_remaining)
    if d.data_state == "live" and live_figures:
        left, of = data_left(d.remaining_bytes or 0, d.total_bytes or 0)
        out.update(known=True, percent=float(d.percent_remaining or 0.0))
        out.update(gauge_top=left, gauge_bottom=f"of {of} left", data_text=live_figures)
    else:
        # Nothing left is a known 0 %; unknown draws an empty ring and says so.
        out.update(known=d.data_state in ("used_up", "expired", "no_plan"), percent=0.0)
        top, bottom, text = GAUGE_WORDS.get(d.data_state, GAUGE_WORDS["unknown"])
        out.update(gauge_top=top, gauge_bottom=bottom, data_text=text)
    # A staff-suspended eSIM cannot take more data: no "buy more" callout.
    out["ended_text"] = "" if d.suspended_by_staff else ended_text(d, tz)
    return out


def _validity(d: Dashboard, tz: str) -> dict[str, Any]:
    """The validity gauge and what starts (or started) the plan's clock."""
    out: dict[str, Any] = {
        "expires_iso": iso_utc(d.expires_at),
        "expires_text": local_datetime(d.expires_at, tz) if d.expires_at else "",
        "time_left_text": duration_text(d.time_left_seconds) if d.expires_at else "",
    }
    validity_days = d.current.validity_days if d.current else None
    if d.time_left_seconds is not None and validity_days:
        out["validity_percent"] = round(
            min(100.0, 100.0 * d.time_left_seconds / (validity_days * 86400)), 1
        )
    else:
        out["validity_percent"] = 0.0
    if d.data_state == "unknown":
        out.update(validity_top="unknown", validity_value="validity not reported yet")
        out["validity_bottom"] = "validity"
        out["clock_text"] = "Validity not reported by the network yet."
    elif d.current is None:
        out.update(validity_top="ended", validity_value="no plan running")
        out["validity_bottom"] = "no plan running"
        out["clock_text"] = "No data plan is running on this eSIM."
    else:
        out.update(validity_top="not started", validity_value="validity not started")
        out["validity_bottom"] = "validity left"
        out["clock_text"] = _clock_text(d)
    return out


def _clock_text(d: Dashboard) -> str:
    if d.clock_started:
        starts = "your first use" if d.clock_starts == "first_use" else "purchase"
        return f"Validity started at {starts}."
    if d.clock_starts == "first_use":
        return "Validity starts at your first data use at the destination."
    return "Validity starts at purchase."


def _freshness(d: Dashboard, tz: str) -> dict[str, Any]:
    """When the figures were read, whether they are old or the last read failed, and the
    run-out forecast."""
    if d.updated_at is None:
        updated = "Figures not received from the network yet"
    else:
        updated = f"Updated {local_datetime(d.updated_at, tz)} ({age_text(d.figures_age_seconds)})"
    out: dict[str, Any] = {
        "updated_text": updated,
        "stale": d.figures_stale,
        "last_error": "The last update failed; figures may be older." if d.last_error else "",
        "projection_text": "",
        "projection_warning": False,
    }
    p = d.projection
    if p is not None:
        when = local_datetime(p.run_out_at, tz)
        pace = format_bytes(round(p.pace_bytes_per_day))
        if p.before_expiry:
            out["projection_text"] = (
                f"At your recent pace ({pace}/day) your data runs out around {when}, "
                "before the plan expires."
            )
            out["projection_warning"] = True
        else:
            out["projection_text"] = (
                f"At your recent pace ({pace}/day) your data lasts until the plan expires."
            )
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
            "day": pt.day.strftime("%d %b"),
            # Bar height in % of the busiest day (a used day shows at least a sliver).
            "height": f"{max(2.0, 100 * pt.bytes / peak) if pt.bytes else 0:.1f}%",
            "label": f"{pt.day.strftime('%d %b')}: {format_bytes(pt.bytes)}",
        }
        for pt in d.daily_usage
    ]
    summary = ""
    if peak and d.daily_usage:
        total = sum(pt.bytes for pt in d.daily_usage)
        summary = (
            f"{format_bytes(total)} used from {daily[0]['day']} to {daily[-1]['day']}; "
            f"busiest day {format_bytes(peak)}"
        )
    return {
        "daily": daily,
        "daily_peak_text": format_bytes(peak) if peak else "",
        "daily_summary": summary,
    }


def ended_text(d: Dashboard, tz: str) -> str:
    """What the "no data left" callout says ("" while data is live or unknown)."""
    if d.data_state == "used_up":
        return "All the data on this eSIM is used up."
    if d.data_state == "expired":
        ended = d.last_plan.expires_at if d.last_plan else None
        if ended is None:
            return "Your data plan expired."
        return f"Your data plan expired on {local_datetime(ended, tz)}."
    if d.data_state == "no_plan":
        return "There is no data plan on this eSIM."
    return ""


def addon_row(a: AddonView, tz: str, running: bool) -> dict[str, str]:
    """One plan row: state, data and validity in words. A plan that ended says how
    (used up, expired on its date, removed), never a future-sounding "until"."""
    known = a.remaining_bytes is not None and a.initial_bytes is not None
    if a.state == AddonState.USED_UP:
        validity = "used up"
        data = f"all {format_bytes(a.initial_bytes)} used" if a.initial_bytes else "all used"
    elif a.state == AddonState.EXPIRED:
        validity = f"expired {local_datetime(a.expires_at, tz)}" if a.expires_at else "expired"
        if known and (a.remaining_bytes or 0) > 0:
            left, of = data_left(a.remaining_bytes or 0, a.initial_bytes or 0)
            data = f"{left} of {of} unused"
        elif known:
            data = f"all {format_bytes(a.initial_bytes)} used"
        else:
            data = "data unknown"
    elif a.state == AddonState.DEACTIVATED:
        validity = "removed"
        data = "removed"
    elif a.state == AddonState.UNKNOWN:
        validity = "not reported by the network"
        data = "data unknown"
    else:
        validity = _live_validity(a, tz)
        if known:
            left, of = data_left(a.remaining_bytes or 0, a.initial_bytes or 0)
            data = f"{left} of {of} left"
        else:
            data = "data unknown"
    if a.state == AddonState.WAITING and not running and a.queue_position == 1:
        label = "not started yet"  # the next one to start; nothing runs before it
    else:
        queue = f" (#{a.queue_position} in line)" if a.queue_position else ""
        label = STATE_LABELS.get(a.state, a.state) + queue
    return {
        "unique_id": a.unique_id,
        "name": a.plan_name or a.plan_id,
        "state": a.state,
        "state_label": label,
        "data": data,
        "validity": validity,
        "current": "yes" if a.is_current else "",
    }


def _live_validity(a: AddonView, tz: str) -> str:
    """A running or waiting plan's validity: until its expiry, else how long from what."""
    if a.expires_at is not None:
        return f"until {local_datetime(a.expires_at, tz)}"
    if a.validity_days:
        start = "first use" if a.clock_starts == "first_use" else "activation"
        return f"{a.validity_days} days from {start}"
    return "validity unknown"
