"""``/admin/travelers``: search accounts by email; one traveler's eSIMs, orders and
replacement requests; grant and revoke the staff role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from travelsim import db
from travelsim.services import admin
from travelsim.services.admin import PageResult, Staff
from travelsim.state.admin.base import (
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    staff_event,
)


class AdminTravelersState(ListMixin, AdminState):
    """``/admin/travelers``: search by email; a traveler's eSIMs, orders, requests; staff
    role grant/revoke."""

    f_email: str = ""
    f_staff: bool = False
    selected: str = ""
    person: dict[str, str] = {}
    person_esims: list[dict[str, str]] = []
    person_orders: list[dict[str, str]] = []
    person_requests: list[dict[str, str]] = []

    filters: ClassVar[tuple[FormFilter, ...]] = (
        FormFilter("f_email", "email", max_len=100),
        FormFilter("f_staff", "staff_only", "flag"),
    )

    def _forget(self) -> None:
        self.rows, self.person, self.selected = [], {}, ""
        self.person_esims, self.person_orders, self.person_requests = [], [], []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_travelers(
                s,
                email_query=filter_value(self.f_email),
                staff_only=self.f_staff,
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """``?user=<id>`` opens one account."""
        self.selected = str(query.get("user", ""))[:12]

    async def _load_detail(self) -> None:
        view = None
        if self.selected.isdigit():
            async with db.session() as s:
                view = await admin.traveler_detail(s, int(self.selected))
        if view is None:
            self.selected, self.person = "", {}
            self.person_esims, self.person_orders, self.person_requests = [], [], []
            return
        self.person_esims = view.pop("esims")
        self.person_orders = view.pop("orders")
        self.person_requests = view.pop("requests")
        self.person = {
            k: ("yes" if v is True else "" if v is False else str(v)) for k, v in view.items()
        }

    @staff_event
    async def select(self, staff: Staff, user_id: str) -> None:
        """Open one account."""
        self.selected = str(user_id)[:12]
        await self._load_detail()

    @staff_event
    async def grant(self, staff: Staff, form: dict[str, Any]) -> None:
        """Grant the staff role to the email typed in the form."""
        email_address = str(form.get("email", ""))[:254]
        await self._report(await admin.set_staff(staff, email_address, grant=True))

    @staff_event
    async def revoke(self, staff: Staff, email_address: str) -> None:
        """Revoke the staff role of ``email_address``."""
        await self._report(await admin.set_staff(staff, str(email_address)[:254], grant=False))
