"""``/status``: the service status for travelers (``travelsim.services.status``), with the
times in the viewer's own time zone (reported by the browser, as on the eSIM page), and the
words in the page's language (docs/i18n.md#texts-made-at-run-time)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.i18n import N_, _
from travelsim.models import utcnow
from travelsim.services import status
from travelsim.state.session import SessionState
from travelsim.state.timezone import TimezoneMixin
from travelsim.timefmt import ago_text, local_datetime

#: The platform badge per :data:`~travelsim.services.status.Platform` (English msgids).
PLATFORM_LABELS = {
    "reachable": N_("Reachable"),
    "unreachable": N_("Not reachable"),
    "unknown": N_("Not checked yet"),
}


class StatusState(TimezoneMixin, SessionState):
    """Figures of ``/status``, formatted for the viewer's zone (``tz``, IANA name)."""

    loaded: bool = False
    portal_ok: bool = True
    platform: str = "unknown"
    platform_label: str = ""
    platform_checked: str = ""
    usage_sync: str = ""
    usage_sync_age: str = ""

    @rx.event
    async def load(self) -> Any:
        await self._require_user()  # the header's signed-in view
        await self._refresh()
        return self._ask_timezone()

    async def _on_timezone(self) -> None:
        await self._refresh()

    async def _refresh(self) -> None:
        view = await status.service_status()
        tz = self.tz or "UTC"
        self.portal_ok = view.portal_ok
        self.platform = view.platform
        self.platform_label = _(PLATFORM_LABELS[view.platform])
        self.platform_checked = (
            local_datetime(view.platform_checked_at, tz) if view.platform_checked_at else ""
        )
        if view.last_usage_sync_at is None:
            self.usage_sync, self.usage_sync_age = "", ""
        else:
            self.usage_sync = local_datetime(view.last_usage_sync_at, tz)
            age = int((utcnow() - view.last_usage_sync_at).total_seconds())
            self.usage_sync_age = ago_text(max(0, age))
        self.loaded = True
