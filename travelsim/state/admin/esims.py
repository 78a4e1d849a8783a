"""``/admin/esims``: search eSIMs by ICCID or endpoint id; one eSIM's endpoint, add-ons,
orders and install status; suspend/resume, refresh from SFT, goodwill add-on, replacement,
and the simulator's data use and profile status."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from travelsim import db
from travelsim.models import InventoryState
from travelsim.services import admin, platform
from travelsim.services.admin import ActionResult, PageResult, Staff
from travelsim.state.admin.base import (
    ANY,
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    form_number,
    staff_background,
    staff_event,
)

#: The options of the inventory state filter.
STATE_CHOICES: list[str] = [ANY, *(state.value for state in InventoryState)]


class AdminEsimsState(ListMixin, AdminState):
    """``/admin/esims``: search by ICCID or endpoint id; one eSIM's endpoint, add-ons and
    install status; suspend/resume, refresh, goodwill add-on, replace, simulator controls."""

    f_query: str = ""
    f_state: str = ANY
    selected: str = ""
    esim: dict[str, str] = {}
    addons: list[dict[str, str]] = []
    esim_orders: list[dict[str, str]] = []
    esim_requests: list[dict[str, str]] = []
    suspended: bool = False
    plans: list[dict[str, str]] = []
    goodwill_key: str = ""
    profile_statuses: list[str] = list(admin.PROFILE_STATUSES)

    filters: ClassVar[tuple[FormFilter, ...]] = (
        FormFilter("f_query", "query", max_len=40),
        FormFilter("f_state", "state", "choice"),
    )

    def _forget(self) -> None:
        self.rows, self.esim, self.addons, self.selected = [], {}, [], ""
        self.esim_orders, self.esim_requests, self.plans = [], [], []

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await admin.list_esims(
                s,
                query_text=filter_value(self.f_query),
                state=filter_value(self.f_state),
                sort=self.sort or "id",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """``?esim=<id>`` opens one eSIM, ``?q=`` searches."""
        self.selected = str(query.get("esim", ""))[:12]
        if query.get("q"):
            self.f_query = str(query.get("q"))[:40]

    async def _load_detail(self) -> None:
        view = None
        if self.selected.isdigit():
            async with db.session() as s:
                view = await admin.esim_detail(s, int(self.selected))
                plans = await admin.list_plans(s, per_page=100)
            self.plans = [
                {"plan_id": p["plan_id"], "label": f"{p['plan_id']} · {p['sft_name']}"}
                for p in plans.rows
                if p["platform"] != "missing"
            ]
        if view is None:
            self.selected, self.esim, self.addons = "", {}, []
            self.esim_orders, self.esim_requests = [], []
            return
        self.addons = view.pop("addons")
        self.esim_orders = view.pop("orders")
        self.esim_requests = view.pop("requests")
        self.suspended = bool(view.pop("suspended"))
        self.esim = {
            k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in view.items()
        }
        self.goodwill_key = str(uuid.uuid4())

    @staff_event
    async def select(self, staff: Staff, esim_id: str) -> None:
        """Open one eSIM."""
        self.selected = str(esim_id)[:12]
        self.notice = ""
        await self._load_detail()

    async def _perform_on_esim(self, action: Callable[[int], Awaitable[ActionResult]]) -> None:
        """:meth:`_perform` ``action`` on the open eSIM's id; nothing when none is open."""
        if self.selected.isdigit():
            esim_id = int(self.selected)
            await self._perform(lambda: action(esim_id))

    @staff_background
    async def suspend(self, staff: Staff) -> None:
        """Suspend the endpoint (staff suspension)."""
        await self._perform_on_esim(
            lambda i: admin.set_suspended(staff, i, suspend=True, client=platform.sft_client())
        )

    @staff_background
    async def resume(self, staff: Staff) -> None:
        """Resume the endpoint."""
        await self._perform_on_esim(
            lambda i: admin.set_suspended(staff, i, suspend=False, client=platform.sft_client())
        )

    @staff_background
    async def refresh(self, staff: Staff) -> None:
        """Re-read the eSIM from SFT."""
        await self._perform_on_esim(
            lambda i: admin.refresh_esim(staff, i, client=platform.sft_client())
        )

    @staff_background
    async def goodwill(self, staff: Staff, form: dict[str, Any]) -> None:
        """Give a goodwill add-on (plan from the form; idempotent per form key)."""
        plan_id = str(form.get("plan_id", ""))[:32]
        note = str(form.get("note", ""))[:200]
        key = str(form.get("request_id", ""))[:36]
        await self._perform_on_esim(
            lambda i: admin.goodwill_addon(
                staff, i, plan_id, request_id=key, note=note, client=platform.sft_client()
            )
        )

    @staff_background
    async def replace(self, staff: Staff, form: dict[str, Any]) -> None:
        """Replace the eSIM (new eSIM with the live plans, old one suspended)."""
        note = str(form.get("note", ""))[:200]
        await self._perform_on_esim(
            lambda i: admin.replace_esim(staff, i, note=note, client=platform.sft_client())
        )

    @staff_background
    async def consume(self, staff: Staff, form: dict[str, Any]) -> None:
        """Simulator: consume megabytes on this eSIM."""
        megabytes = form_number(form.get("megabytes", "0"))
        await self._perform_on_esim(
            lambda i: admin.sim_consume(staff, i, megabytes, client=platform.sft_client())
        )

    @staff_background
    async def set_profile(self, staff: Staff, form: dict[str, Any]) -> None:
        """Simulator: set this eSIM's profile status."""
        status = str(form.get("status", ""))[:20]
        await self._perform_on_esim(
            lambda i: admin.sim_profile_status(staff, i, status, client=platform.sft_client())
        )
