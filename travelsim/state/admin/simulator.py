"""``/admin/simulator``: the built-in simulator's clock and faults (never shown, and refused
by the service, against the real platform)."""

from __future__ import annotations

from typing import Any

from travelsim.services import admin
from travelsim.services.admin import Staff
from travelsim.state.admin.base import AdminPage, AdminState, form_number, staff_event


class AdminSimState(AdminPage, AdminState):
    """``/admin/simulator``: clock and faults of the built-in simulator (never shown, and
    refused by the service, against the real platform)."""

    clock: str = ""
    faults: list[dict[str, str]] = []
    fault_kinds: list[str] = list(admin.FAULT_KINDS)

    def _forget(self) -> None:
        self.clock, self.faults = "", []

    async def _refresh(self) -> None:
        state = await admin.sim_state()
        self.clock = str(state.get("clock", ""))
        self.faults = [
            {
                "id": str(f.get("id", "")),
                "operation": str(f.get("operation", "")),
                "kind": str(f.get("kind", "")),
                "count": str(f.get("count", "")),
                "fired": str(f.get("fired", "")),
            }
            for f in state.get("faults", [])
        ]

    async def _open(self) -> Any:
        """The clock and the faults (controls only on the simulator)."""
        await self._refresh()
        return None

    @staff_event
    async def advance(self, staff: Staff, form: dict[str, Any]) -> None:
        """Move the simulator clock forward by the form's hours."""
        hours = form_number(form.get("hours", "0"))
        await self._report(await admin.sim_advance_clock(staff, hours))

    @staff_event
    async def inject(self, staff: Staff, form: dict[str, Any]) -> None:
        """Inject a fault."""
        try:
            count = int(str(form.get("count", "1")))
        except ValueError:
            count = 0
        operation = str(form.get("operation", "*"))[:40]
        kind = str(form.get("kind", ""))[:30]
        await self._report(await admin.sim_fault(staff, operation, kind, count))

    @staff_event
    async def clear_faults(self, staff: Staff) -> None:
        """Remove every injected fault."""
        await self._report(await admin.sim_clear_faults(staff))
