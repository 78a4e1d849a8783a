"""The viewer's time zone, asked of the browser, for the states that show dates.

Dates are shown in the browser's IANA zone, named (docs/esim.md#time-zone-names), and in UTC
until the browser has said which zone it is in. A state mixes in :class:`TimezoneMixin`,
returns :meth:`TimezoneMixin._ask_timezone` from its ``load`` handler and re-formats what it
shows in :meth:`TimezoneMixin._on_timezone`.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventSpec

#: The script the browser runs to report its IANA zone (e.g. ``"Europe/Brussels"``).
ASK_ZONE = "Intl.DateTimeFormat().resolvedOptions().timeZone"
#: Longest zone name kept (IANA names are far shorter; anything longer is cut).
ZONE_MAX = 64


class TimezoneMixin(rx.State, mixin=True):
    """``tz``: the browser's IANA zone ("" until reported: format in UTC then)."""

    tz: str = ""

    @rx.event
    async def set_timezone(self, tz: Any) -> None:
        """The browser's IANA zone, used only to format dates for this viewer (cut to
        :data:`ZONE_MAX` characters; an empty answer means UTC); then :meth:`_on_timezone`."""
        self.tz = str(tz)[:ZONE_MAX] if tz else ""
        await self._on_timezone()

    async def _on_timezone(self) -> None:
        """Re-format what the state shows for the new ``tz``. Default: nothing."""

    def _ask_timezone(self) -> EventSpec:
        """The event that asks the browser for its zone and hands it to this state's
        ``set_timezone`` (the concrete class's handler, not the mixin's)."""
        return rx.call_script(ASK_ZONE, callback=type(self).set_timezone)
