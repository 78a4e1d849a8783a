"""``/admin/orders``: search and filter orders; one order's steps, and its actions (retry
provisioning, void or refund the payment, resend the installation email)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from travelsim import db
from travelsim.models import OrderStatus
from travelsim.services import admin, platform
from travelsim.services.admin import PageResult, Staff
from travelsim.state.admin.base import (
    ANY,
    AdminState,
    FormFilter,
    ListMixin,
    filter_day,
    filter_value,
    staff_background,
    staff_event,
)

#: The options of the status filter.
STATUS_CHOICES: list[str] = [ANY, *(status.value for status in OrderStatus)]

_FLAGS = ("can_retry", "can_void", "can_refund", "can_resend", "refund_allowed")


class AdminOrdersState(ListMixin, AdminState):
    """``/admin/orders``: search, filter, one order's steps, and its actions."""

    f_status: str = ANY
    f_traveler: str = ""
    f_iccid: str = ""
    f_reference: str = ""
    f_from: str = ""
    f_to: str = ""
    selected: str = ""
    detail: dict[str, str] = {}
    steps: list[dict[str, str]] = []
    can_retry: bool = False
    can_void: bool = False
    can_refund: bool = False
    can_resend: bool = False
    refund_allowed: bool = False
    payment_action: str = ""

    filters: ClassVar[tuple[FormFilter, ...]] = (
        FormFilter("f_status", "status", "choice"),
        FormFilter("f_traveler", "traveler", max_len=100),
        FormFilter("f_iccid", "iccid", max_len=30),
        FormFilter("f_reference", "reference", max_len=20),
        FormFilter("f_from", "date_from", "day", label="From"),
        FormFilter("f_to", "date_to", "day", label="To"),
    )

    def _forget(self) -> None:
        self.rows, self.detail, self.steps, self.selected = [], {}, [], ""

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_orders(
                s,
                status=filter_value(self.f_status),
                traveler=filter_value(self.f_traveler),
                iccid=filter_value(self.f_iccid),
                reference=filter_value(self.f_reference),
                date_from=filter_day(self.f_from),
                date_to=filter_day(self.f_to),
                sort=self.sort or "created_at",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """``?order=<id>`` opens one order, ``?status=`` filters."""
        self.selected = str(query.get("order", ""))[:36]
        status = str(query.get("status", ""))
        self.f_status = status if status in admin.ORDER_STATUSES else ANY

    async def _load_detail(self) -> None:
        if not self.selected:
            self.detail, self.steps = {}, []
            return
        async with db.session() as s:
            view = await admin.order_detail(s, self.selected)
        if view is None:
            self.selected, self.detail, self.steps = "", {}, []
            return
        self.steps = view.pop("steps")
        for flag in _FLAGS:
            setattr(self, flag, bool(view.pop(flag)))
        self.payment_action = str(view.pop("payment_action"))
        self.detail = {k: str(v) for k, v in view.items()}

    @staff_event
    async def select(self, staff: Staff, order_id: str) -> None:
        """Open one order's details."""
        self.selected = str(order_id)[:36]
        self.notice = ""
        await self._load_detail()

    @staff_background
    async def retry(self, staff: Staff) -> None:
        """Retry the selected order's provisioning."""
        order_id = self.selected
        await self._perform(
            lambda: admin.retry_provisioning(staff, order_id, client=platform.sft_client())
        )

    @staff_background
    async def refund(self, staff: Staff, form: dict[str, Any]) -> None:
        """Void or refund the selected order's payment (``force_reason`` forces a refund)."""
        order_id = self.selected
        reason = str(form.get("force_reason", ""))[:300]
        await self._perform(
            lambda: admin.refund_order(
                staff, order_id, client=platform.sft_client(), force_reason=reason
            )
        )

    @staff_background
    async def resend(self, staff: Staff) -> None:
        """Queue the installation email again."""
        order_id = self.selected
        await self._perform(lambda: admin.resend_installation_email(staff, order_id))
