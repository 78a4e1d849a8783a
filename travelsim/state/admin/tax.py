"""``/admin/tax``: the VAT rate of each EU member state and the form that changes one
(``admin.update_rate``, audited)."""

from __future__ import annotations

from typing import Any

from travelsim import db
from travelsim.services import admin, tax
from travelsim.services.admin import Staff
from travelsim.settings import get_settings
from travelsim.state.admin.base import AdminPage, AdminState, staff_event

#: The member states' codes, the options of the form's country select.
MEMBER_CODES: list[str] = sorted(tax.EU_MEMBERS)


class AdminTaxState(AdminPage, AdminState):
    """The rates table (``rows``: ``admin.list_rates``), the seller's home country and the
    shipped file's source and date."""

    rows: list[dict[str, str]] = []
    home: str = ""
    source: str = ""
    compiled: str = ""

    def _forget(self) -> None:
        self.rows = []

    async def _refresh(self) -> None:
        async with db.session() as s:
            self.rows = await admin.list_rates(s)

    async def _open(self) -> Any:
        shipped = tax.shipped_rates()
        self.home = get_settings().seller_country
        self.source, self.compiled = shipped.source, shipped.compiled
        await self._refresh()
        return None

    @staff_event
    async def save(self, staff: Staff, form: dict[str, Any]) -> None:
        """Set one member state's rate from the form (``country``, ``rate`` in percent); the
        notice says the outcome and the table is re-read."""
        outcome = await admin.update_rate(
            staff, str(form.get("country", ""))[:2], str(form.get("rate", ""))[:10]
        )
        await self._report(outcome)
