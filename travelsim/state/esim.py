"""One eSIM's page: data and validity gauges, add-ons, daily usage, live updates.

Figures come from the database (written by the usage sync); "Refresh now" asks SFT at
the traveler's priority with a per-eSIM cool-down. A background watcher re-reads the
figures whenever a writer signals a change (:mod:`travelsim.services.live`), or every
few seconds otherwise, so open pages update without a reload.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import reflex as rx

from travelsim import db
from travelsim.formatting import data_left, format_bytes
from travelsim.models import utcnow
from travelsim.services import countries, installation, live, platform, usage
from travelsim.services.jobs import viewed
from travelsim.settings import get_settings
from travelsim.state.session import SessionState, _uid
from travelsim.timefmt import age_text, duration_text, iso_utc, local_datetime

STATE_LABELS = {
    "waiting": "waiting",
    "active": "active",
    "used_up": "used up",
    "expired": "expired",
    "deactivated": "removed",
    "unknown": "unknown",
}
INSTALL_LABELS = {
    "ready": "Not installed yet",
    "downloaded": "Downloaded to a phone",
    "installed": "Installed",
    "deleted": "Deleted from the phone",
    "error": "Installation error",
    "unknown": "Install status unknown",
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


def support_links() -> dict[str, str]:
    """The support contact for the page, read now from the settings (``SUPPORT_EMAIL``,
    optional ``SUPPORT_URL`` / ``SUPPORT_PHONE``; :func:`installation.support_contact`):
    ``email``, ``url``, ``phone`` ("" when not set) and ``tel`` (the phone's digits and
    ``+``, for a ``tel:`` link)."""
    contact = installation.support_contact()
    return {
        "email": contact.email,
        "url": contact.url or "",
        "phone": contact.phone or "",
        "tel": "".join(c for c in contact.phone or "" if c.isdigit() or c == "+"),
    }


def data_words(remaining: int | None, total: int | None, percent: float | None) -> str:
    """``"18.98 GB of 19 GB left (99.8 %)"`` for known live figures (the shown figures never
    contradict each other, :func:`travelsim.formatting.data_left`), else ``""``."""
    if remaining is None or total is None or percent is None:
        return ""
    left, of = data_left(remaining, total)
    return f"{left} of {of} left ({percent:g} %)"


class EsimState(SessionState):
    esim_id: str = ""
    not_found: bool = False
    loaded: bool = False
    tz: str = ""
    title: str = ""
    iccid: str = ""
    destination: str = ""
    endpoint_status: str = ""
    install: str = ""
    install_label: str = ""
    qr_used: bool = False
    can_request_replacement: bool = False
    replacement_open: bool = False
    suspended_by_staff: bool = False
    #: The one sentence a staff-suspended eSIM shows ("" otherwise).
    suspended_text: str = ""
    #: Support contact (:func:`support_links`), filled on load.
    support: dict[str, str] = {}

    install_ok_text: str = ""
    install_problem: bool = False
    install_problem_text: str = ""

    #: ``unknown`` / ``live`` / ``used_up`` / ``expired`` / ``no_plan`` (usage.DataState).
    data_state: str = "unknown"
    known: bool = False
    percent: float = 0.0
    gauge_top: str = "unknown"
    gauge_bottom: str = "data left"
    data_text: str = ""
    #: The "no data left" callout ("" while data is live or unknown).
    ended_text: str = ""
    #: The network has reported figures at least once (usage and plans are facts).
    usage_known: bool = False

    expires_text: str = ""
    expires_iso: str = ""
    time_left_text: str = ""
    #: Validity gauge words when no countdown runs ("not started", "unknown", "ended").
    validity_top: str = "unknown"
    validity_bottom: str = "validity"
    validity_value: str = "validity unknown"
    validity_percent: float = 0.0
    clock_text: str = ""
    updated_text: str = ""
    stale: bool = False
    last_error: str = ""
    projection_text: str = ""
    projection_warning: bool = False

    addons: list[dict[str, str]] = []
    daily: list[dict[str, Any]] = []
    #: "1.2 GB" on the busiest day shown, "" when no day has usage.
    daily_peak_text: str = ""
    #: One sentence describing the chart for screen readers, "" when nothing was used.
    daily_summary: str = ""
    refresh_message: str = ""
    refreshing: bool = False
    watching: bool = False
    rename_error: str = ""

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.esim_id = raw if raw.isdigit() else ""
        self.refresh_message = ""
        if not await self._reload(_uid(user)):
            return None
        return [
            rx.call_script(
                "Intl.DateTimeFormat().resolvedOptions().timeZone",
                callback=EsimState.set_timezone,
            ),
            EsimState.watch,
        ]

    @rx.event
    async def set_timezone(self, tz: Any) -> None:
        """The browser's IANA zone, used only to format dates for this viewer."""
        self.tz = str(tz)[:64] if tz else ""
        user = await self._current_user()
        if user is not None:
            await self._reload(_uid(user))

    async def _fetch(self, user_id: int) -> usage.Dashboard | None:
        if not self.esim_id:
            return None
        viewed.mark_viewed(int(self.esim_id))  # the scheduled sync serves viewed eSIMs first
        async with db.session() as s:
            return await usage.esim_dashboard(
                s, user_id=user_id, esim_id=int(self.esim_id), now=utcnow()
            )

    async def _reload(self, user_id: int) -> bool:
        return self._apply(await self._fetch(user_id))

    def _apply(self, d: usage.Dashboard | None) -> bool:
        if d is None:
            self.not_found = True
            self.loaded = True
            return False
        tz = self.tz or "UTC"
        n = SimpleNamespace()
        n.not_found = False
        n.loaded = True
        n.title = d.title
        n.iccid = d.iccid
        n.destination = countries.label(d.destination)
        n.endpoint_status = d.endpoint_status or "unknown"
        n.suspended_by_staff = d.suspended_by_staff
        if d.suspended_by_staff:
            n.suspended_text = REFUNDED if d.refunded else SUSPENDED_BY_STAFF
            n.support = support_links()
        else:
            n.suspended_text = ""
        n.install = d.install
        n.install_label = INSTALL_LABELS.get(d.install, d.install)
        n.qr_used = d.qr_used
        n.can_request_replacement = d.can_request_replacement
        n.replacement_open = d.replacement_open
        n.install_problem = d.install_problem
        n.install_problem_text = INSTALL_PROBLEM.get(d.install, "") if d.install_problem else ""
        n.install_ok_text = "" if d.install_problem else INSTALL_OK.get(d.install, "")

        n.data_state = d.data_state
        n.usage_known = d.updated_at is not None
        live_figures = data_words(d.remaining_bytes, d.total_bytes, d.percent_remaining)
        if d.data_state == "live" and live_figures:
            left, of = data_left(d.remaining_bytes or 0, d.total_bytes or 0)
            n.known, n.percent = True, float(d.percent_remaining or 0.0)
            n.gauge_top, n.gauge_bottom, n.data_text = left, f"of {of} left", live_figures
        else:
            # Nothing left is a known 0 %; unknown draws an empty ring and says so.
            n.known, n.percent = d.data_state in ("used_up", "expired", "no_plan"), 0.0
            n.gauge_top, n.gauge_bottom, n.data_text = GAUGE_WORDS.get(
                d.data_state, GAUGE_WORDS["unknown"]
            )
        # A staff-suspended eSIM cannot take more data: no "buy more" callout.
        n.ended_text = "" if d.suspended_by_staff else self._ended_text(d, tz)

        n.expires_iso = iso_utc(d.expires_at)
        n.expires_text = local_datetime(d.expires_at, tz) if d.expires_at else ""
        n.time_left_text = duration_text(d.time_left_seconds) if d.expires_at else ""
        validity_days = d.current.validity_days if d.current else None
        if d.time_left_seconds is not None and validity_days:
            n.validity_percent = round(
                min(100.0, 100.0 * d.time_left_seconds / (validity_days * 86400)), 1
            )
        else:
            n.validity_percent = 0.0
        if d.data_state == "unknown":
            n.validity_top, n.validity_value = "unknown", "validity not reported yet"
            n.validity_bottom = "validity"
            n.clock_text = "Validity not reported by the network yet."
        elif d.current is None:
            n.validity_top, n.validity_value = "ended", "no plan running"
            n.validity_bottom = "no plan running"
            n.clock_text = "No data plan is running on this eSIM."
        else:
            n.validity_top, n.validity_value = "not started", "validity not started"
            n.validity_bottom = "validity left"
            if d.clock_started:
                starts = "your first use" if d.clock_starts == "first_use" else "purchase"
                n.clock_text = f"Validity started at {starts}."
            elif d.clock_starts == "first_use":
                n.clock_text = "Validity starts at your first data use at the destination."
            else:
                n.clock_text = "Validity starts at purchase."
        if d.updated_at is None:
            n.updated_text = "Figures not received from the network yet"
        else:
            n.updated_text = (
                f"Updated {local_datetime(d.updated_at, tz)} ({age_text(d.figures_age_seconds)})"
            )
        n.stale = d.figures_stale
        n.last_error = "The last update failed; figures may be older." if d.last_error else ""
        p = d.projection
        if p is None:
            n.projection_text = ""
            n.projection_warning = False
        else:
            when = local_datetime(p.run_out_at, tz)
            pace = format_bytes(round(p.pace_bytes_per_day))
            if p.before_expiry:
                n.projection_text = (
                    f"At your recent pace ({pace}/day) your data runs out around {when}, "
                    "before the plan expires."
                )
                n.projection_warning = True
            else:
                n.projection_text = (
                    f"At your recent pace ({pace}/day) your data lasts until the plan expires."
                )
                n.projection_warning = False
        running = any(a.state == "active" for a in d.addons)
        n.addons = [self._addon_view(a, tz, running) for a in d.addons]
        peak = max((pt.bytes for pt in d.daily_usage), default=0)
        n.daily = [
            {
                "day": pt.day.strftime("%d %b"),
                # Bar height in % of the busiest day (a used day shows at least a sliver).
                "height": f"{max(2.0, 100 * pt.bytes / peak) if pt.bytes else 0:.1f}%",
                "label": f"{pt.day.strftime('%d %b')}: {format_bytes(pt.bytes)}",
            }
            for pt in d.daily_usage
        ]
        n.daily_peak_text = format_bytes(peak) if peak else ""
        if peak and d.daily_usage:
            total = sum(pt.bytes for pt in d.daily_usage)
            n.daily_summary = (
                f"{format_bytes(total)} used from {n.daily[0]['day']} to {n.daily[-1]['day']}; "
                f"busiest day {format_bytes(peak)}"
            )
        else:
            n.daily_summary = ""
        # Assign only what changed: Reflex sends every assigned var to the browser, and an
        # unchanged page (most polls) should cost no websocket traffic.
        for name, value in vars(n).items():
            if getattr(self, name) != value:
                setattr(self, name, value)
        return True

    @staticmethod
    def _ended_text(d: usage.Dashboard, tz: str) -> str:
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

    @staticmethod
    def _addon_view(a: usage.AddonView, tz: str, running: bool) -> dict[str, str]:
        """One plan row: state, data and validity in words. A plan that ended says how
        (used up, expired on its date, removed), never a future-sounding "until"."""
        known = a.remaining_bytes is not None and a.initial_bytes is not None
        if a.state == "used_up":
            validity = "used up"
            data = f"all {format_bytes(a.initial_bytes)} used" if a.initial_bytes else "all used"
        elif a.state == "expired":
            validity = f"expired {local_datetime(a.expires_at, tz)}" if a.expires_at else "expired"
            if known and (a.remaining_bytes or 0) > 0:
                left, of = data_left(a.remaining_bytes or 0, a.initial_bytes or 0)
                data = f"{left} of {of} unused"
            elif known:
                data = f"all {format_bytes(a.initial_bytes)} used"
            else:
                data = "data unknown"
        elif a.state == "deactivated":
            validity = "removed"
            data = "removed"
        elif a.state == "unknown":
            validity = "not reported by the network"
            data = "data unknown"
        else:
            if a.expires_at is not None:
                validity = f"until {local_datetime(a.expires_at, tz)}"
            elif a.validity_days:
                start = "first use" if a.clock_starts == "first_use" else "activation"
                validity = f"{a.validity_days} days from {start}"
            else:
                validity = "validity unknown"
            if known:
                left, of = data_left(a.remaining_bytes or 0, a.initial_bytes or 0)
                data = f"{left} of {of} left"
            else:
                data = "data unknown"
        if a.state == "waiting" and not running and a.queue_position == 1:
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

    @rx.event(background=True)
    async def watch(self) -> None:
        """Re-read the figures when they change, while the page is open.

        Woken by :mod:`travelsim.services.live` (a standing subscription, so a change
        notified while this re-reads is not missed) or every ``LIVE_POLL_SECONDS``. The
        session cookie is re-checked at least that often, and the tab stops watching once
        it is signed out.
        """
        async with self:
            if self.watching or not self.esim_id:
                return
            self.watching = True
            esim_id = int(self.esim_id)
        try:
            loop = asyncio.get_running_loop()
            poll = get_settings().live_poll_seconds
            deadline = loop.time() + WATCH_SECONDS
            user_id: int | None = None
            checked_at = 0.0
            with live.watching(esim_id) as changes:
                while loop.time() < deadline:
                    notified = await changes.wait(poll)
                    if user_id is None or not notified or loop.time() - checked_at >= poll:
                        user = await self._current_user()
                        if user is None:
                            return
                        user_id, checked_at = _uid(user), loop.time()
                    view = await self._fetch(user_id)
                    async with self:
                        if str(esim_id) != self.esim_id:
                            return
                        self._apply(view)
        finally:
            async with self:
                self.watching = False

    @rx.event(background=True)
    async def refresh(self) -> None:
        """Ask SFT for fresh figures now (traveler priority, per-eSIM cool-down)."""
        async with self:
            if self.refreshing or not self.esim_id:
                return
            self.refreshing = True
            self.refresh_message = ""
            esim_id = int(self.esim_id)
        try:
            user = await self._current_user()
            if user is None:
                return
            outcome = await usage.refresh_now(
                platform.sft_client(), user_id=_uid(user), esim_id=esim_id
            )
            if outcome.status == "refreshed":
                live.notify(esim_id)
                message = "Updated from the network just now."
            elif outcome.status == "cooling_down":
                message = f"Just updated. Try again in {outcome.retry_after_seconds} s."
            elif outcome.status == "not_found":
                message = "eSIM not found."
            else:
                message = "The network did not answer. Please try again in a minute."
            view = await self._fetch(_uid(user))
            async with self:
                self._apply(view)
                self.refresh_message = message
        finally:
            async with self:
                self.refreshing = False

    @rx.event
    async def rename(self, form: dict[str, Any]) -> None:
        user = await self._require_user()
        if user is None or not self.esim_id:
            return
        async with db.session() as s:
            try:
                name = await usage.rename_esim(
                    s,
                    user_id=_uid(user),
                    esim_id=int(self.esim_id),
                    nickname=str(form.get("nickname", "")),
                )
            except usage.NicknameError as exc:
                self.rename_error = str(exc)
                return
        self.rename_error = ""
        if name is not None:
            await self._reload(_uid(user))

    @rx.event
    async def request_replacement(self) -> None:
        user = await self._require_user()
        if user is None or not self.esim_id:
            return
        async with db.session() as s:
            await usage.request_replacement(
                s,
                user_id=_uid(user),
                esim_id=int(self.esim_id),
                reason="QR already used, profile deleted or installation failed (traveler)",
            )
        await self._reload(_uid(user))
