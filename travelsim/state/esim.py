"""One eSIM's page: data and validity gauges, add-ons, daily usage, live updates.

Figures come from the database (written by the usage sync); "Refresh now" asks SFT at
the traveler's priority with a per-eSIM cool-down. A background watcher re-reads the
figures whenever a writer signals a change (:mod:`travelsim.services.live`), or every
few seconds otherwise, so open pages update without a reload. What the page says for the
figures is :mod:`travelsim.state.esim_view`, in the page's language
(docs/i18n.md#texts-made-at-run-time): the texts' defaults are empty, never English, until
the first load fills them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from travelsim import db, i18n
from travelsim.i18n import _
from travelsim.models import utcnow
from travelsim.services import esim_actions, installation, live, platform, usage_refresh
from travelsim.services.esim_dashboard import Dashboard, esim_dashboard
from travelsim.services.jobs import viewed
from travelsim.services.ownership import owned_esim
from travelsim.settings import get_settings
from travelsim.state.esim_view import page_values
from travelsim.state.language import page_locale
from travelsim.state.session import SessionState, _uid
from travelsim.state.timezone import TimezoneMixin

WATCH_SECONDS = 15 * 60


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


class EsimState(TimezoneMixin, SessionState):
    esim_id: str = ""
    not_found: bool = False
    loaded: bool = False
    title: str = ""
    iccid: str = ""
    destination: str = ""
    #: The install and "buy more data" pages of this eSIM (``travelsim.urls``).
    install_url: str = ""
    topup_url: str = ""
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

    #: ``unknown`` / ``live`` / ``used_up`` / ``expired`` / ``no_plan`` (my_esims.DataState).
    data_state: str = "unknown"
    known: bool = False
    percent: float = 0.0
    gauge_top: str = ""
    gauge_bottom: str = ""
    data_text: str = ""
    #: The "no data left" callout ("" while data is live or unknown).
    ended_text: str = ""
    #: The network has reported figures at least once (usage and plans are facts).
    usage_known: bool = False

    #: "Expires <date>" ("" while the validity has not started).
    expires_text: str = ""
    expires_iso: str = ""
    #: "<duration> left" while the validity runs, else "".
    time_left_text: str = ""
    #: Validity gauge words when no countdown runs ("not started", "unknown", "ended").
    validity_top: str = ""
    validity_bottom: str = ""
    validity_value: str = ""
    validity_percent: float = 0.0
    clock_text: str = ""
    updated_text: str = ""
    stale: bool = False
    last_error: str = ""
    projection_text: str = ""
    projection_warning: bool = False

    addons: list[dict[str, str]] = []
    daily: list[dict[str, Any]] = []
    #: "Busiest day: 1.2 GB", "" when no day has usage.
    daily_peak_text: str = ""
    #: One sentence describing the chart for screen readers, "" when nothing was used.
    daily_summary: str = ""
    refresh_message: str = ""
    refreshing: bool = False
    watching: bool = False
    rename_error: str = ""

    @rx.event
    async def load(self) -> Any:
        """Show the eSIM of the route for its signed-in owner. The id becomes state only once
        :func:`~travelsim.services.ownership.owned_esim` (through the dashboard) says it is
        the traveler's: a foreign or unknown id shows "not found", keeps no id, writes no
        "being viewed" mark and starts no watch
        (docs/esim.md#security-installation-data-never-in-page-state)."""
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.esim_id = ""
        self.refresh_message = ""
        view = await self._dashboard(_uid(user), int(raw)) if raw.isdigit() else None
        if not self._apply(view):
            return None
        self.esim_id = raw
        return [self._ask_timezone(), EsimState.watch]

    async def _on_timezone(self) -> None:
        user = await self._current_user()
        if user is not None:
            await self._reload(_uid(user))

    async def _dashboard(self, user_id: int, esim_id: int) -> Dashboard | None:
        """The dashboard of ``esim_id`` when ``user_id`` owns it, else ``None``. Only an owned
        eSIM is marked "being viewed" (the scheduled sync serves viewed eSIMs first)."""
        async with db.session() as s:
            d = await esim_dashboard(s, user_id=user_id, esim_id=esim_id, now=utcnow())
        if d is not None:
            viewed.mark_viewed(esim_id)
        return d

    async def _fetch(self, user_id: int) -> Dashboard | None:
        if not self.esim_id.isdigit():
            return None
        return await self._dashboard(user_id, int(self.esim_id))

    async def _reload(self, user_id: int) -> bool:
        return self._apply(await self._fetch(user_id))

    def _apply(self, d: Dashboard | None) -> bool:
        if d is None:
            self.not_found = True
            self.loaded = True
            return False
        values = page_values(d, self.tz or "UTC")
        if d.suspended_by_staff:
            values["support"] = support_links()
        # Assign only what changed: Reflex sends every assigned var to the browser, and an
        # unchanged page (most polls) should cost no websocket traffic.
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)
        return True

    @rx.event(background=True)
    async def watch(self) -> None:
        """Re-read the figures when they change, while the page is open.

        Woken by :mod:`travelsim.services.live` (a standing subscription, so a change
        notified while this re-reads is not missed) or every ``LIVE_POLL_SECONDS``. The
        session cookie is re-checked at least that often, and the tab stops watching once
        it is signed out.
        """
        # Read before taking the state's lock: a tab whose id is not the signed-in
        # traveler's own eSIM (a forged tab) stops here, watching nothing.
        if not self.esim_id.isdigit() or self.watching:
            return
        esim_id = int(self.esim_id)
        first = await self._current_user()
        if first is None:
            return
        async with db.session() as s:
            if await owned_esim(s, _uid(first), esim_id) is None:
                return
        async with self:
            if self.watching or self.esim_id != str(esim_id):
                return
            self.watching = True
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
                        # In the language of the page the tab shows now: the traveler may
                        # have switched language while this watch runs.
                        with i18n.using(page_locale(self)):
                            if not self._apply(view):
                                return  # no longer the traveler's: stop watching it
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
            outcome = await usage_refresh.refresh_now(
                platform.sft_client(), user_id=_uid(user), esim_id=esim_id
            )
            if outcome.status == "refreshed":
                live.notify(esim_id)
                message = _("Updated from the network just now.")
            elif outcome.status == "cooling_down":
                message = _("Just updated. Try again in {seconds} s.").format(
                    seconds=outcome.retry_after_seconds
                )
            elif outcome.status == "not_found":
                message = _("eSIM not found.")
            else:
                message = _("The network did not answer. Please try again in a minute.")
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
                name = await esim_actions.rename_esim(
                    s,
                    user_id=_uid(user),
                    esim_id=int(self.esim_id),
                    nickname=str(form.get("nickname", "")),
                )
            except esim_actions.NicknameError as exc:
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
            await esim_actions.request_replacement(
                s,
                user_id=_uid(user),
                esim_id=int(self.esim_id),
                reason="QR already used, profile deleted or installation failed (traveler)",
            )
        await self._reload(_uid(user))
