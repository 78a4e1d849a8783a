"""``/admin/catalogue``: the plans, and the editor of one plan's seller fields (display
name, price, prices in the other currencies of ``Settings.currencies``, destinations, on
sale, the texts in each other language, the network facts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from travelsim import db
from travelsim.services import admin, plan_texts
from travelsim.services.admin import NetworkEdit, PageResult, Staff
from travelsim.services.admin.catalogue import text_key
from travelsim.settings import get_settings
from travelsim.state.admin.base import (
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    staff_event,
)


class AdminCatalogueState(ListMixin, AdminState):
    """``/admin/catalogue``: plans, and the editor of one plan's seller fields."""

    f_query: str = ""
    editing: str = ""
    edit: dict[str, str] = {}
    edit_on_sale: bool = False
    edit_hotspot: bool = True
    edit_starts_anywhere: bool = False
    #: The last catalogue sync: when, and the platform plans it skipped with their reasons.
    synced_at: str = ""
    skipped: list[dict[str, str]] = []

    filters: ClassVar[tuple[FormFilter, ...]] = (FormFilter("f_query", "query", max_len=40),)

    def _forget(self) -> None:
        self.rows, self.edit, self.editing = [], {}, ""

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            self.synced_at, self.skipped = await admin.last_sync_skips(s)
            return await admin.list_plans(
                s,
                query_text=filter_value(self.f_query),
                sort=self.sort or "plan_id",
                desc=self.desc if self.sort else False,
                page=self.page,
                per_page=self.per_page,
            )

    def _on_open(self, query: Mapping[str, str]) -> None:
        """The editor closed."""
        self.editing, self.edit = "", {}

    @staff_event
    async def start_edit(self, staff: Staff, plan_id: str) -> None:
        """Open the editor on one plan (values from the current page's row)."""
        row = next((r for r in self.rows if r["plan_id"] == plan_id), None)
        if row is None:
            return
        self.editing = plan_id
        self.edit = dict(row)
        self.edit_on_sale = row["on_sale"] == "yes"
        self.edit_hotspot = row["hotspot"] == "yes"
        self.edit_starts_anywhere = row["starts_anywhere"] == "yes"

    @staff_event
    async def cancel_edit(self, staff: Staff) -> None:
        """Close the editor."""
        self.editing, self.edit = "", {}

    @staff_event
    async def save(self, staff: Staff, form: dict[str, Any]) -> None:
        """Save the editor's fields; the editor closes when they were saved. The extra price
        fields are ``price_<CUR>`` (one per offered currency but the plan's base one)."""
        prices = {
            cur: str(form[f"price_{cur}"])[:20]
            for cur in get_settings().currencies
            if f"price_{cur}" in form
        }
        outcome = await admin.update_plan(
            staff,
            self.editing,
            display_name=str(form.get("display_name", ""))[:200],
            price=str(form.get("price", ""))[:20],
            currency=str(form.get("currency", ""))[:3],
            destinations=str(form.get("destinations", ""))[:1000],
            on_sale=bool(form.get("on_sale")),
            texts=form_texts(form),
            prices=prices,
            network=form_network(form),
        )
        if outcome.ok:
            self.editing, self.edit = "", {}
        await self._report(outcome)


def form_network(form: Mapping[str, Any]) -> NetworkEdit:
    """The editor's network facts (fields ``networks``, ``apn``, checkboxes ``hotspot`` and
    ``starts_anywhere``: docs/esim.md#network-facts) as ``admin.update_plan`` takes them."""
    return NetworkEdit(
        networks=str(form.get("networks", ""))[:5000],
        hotspot=bool(form.get("hotspot")),
        apn=str(form.get("apn", ""))[:100],
        starts_anywhere=bool(form.get("starts_anywhere")),
    )


def form_texts(form: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The editor's plan texts (fields ``text_<lang>_<field>``, ``text_key``) as
    ``admin.update_plan`` takes them, each cut to its longest length
    (docs/i18n.md#plan-texts)."""
    return {
        code: {
            name: str(form.get(text_key(code, name), ""))[:limit]
            for name, limit in plan_texts.TEXT_FIELDS.items()
        }
        for code in plan_texts.TEXT_LOCALES
    }
