"""``/admin/reconciliation``: open discrepancies between Stripe, the books and SFT, the one
action resolving each, resolved history, and running the reconciliation now
(docs/reconciliation.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from travelsim import db
from travelsim.models import DiscrepancyKind
from travelsim.services import platform
from travelsim.services.admin import PageResult, Staff
from travelsim.services.admin import reconciliation as recon
from travelsim.state.admin.base import (
    ANY,
    AdminState,
    FormFilter,
    ListMixin,
    filter_value,
    staff_background,
)

#: The options of the kind filter.
KIND_CHOICES: list[str] = [ANY, *(k.value for k in DiscrepancyKind)]
#: Resolved and cleared discrepancies shown under the open ones, newest first.
HISTORY_SHOWN = 50


class AdminReconciliationState(ListMixin, AdminState):
    """``/admin/reconciliation``: ``rows`` are the open discrepancies (paged, filtered by
    kind), ``history`` the latest resolved or cleared ones, ``counts`` per status."""

    f_kind: str = ANY
    history: list[dict[str, str]] = []
    counts: dict[str, str] = {}

    filters: ClassVar[tuple[FormFilter, ...]] = (FormFilter("f_kind", "kind", "choice"),)

    def _forget(self) -> None:
        self.rows, self.history, self.counts = [], [], {}

    async def _fetch(self) -> PageResult:
        async with db.session() as s:
            return await recon.list_discrepancies(
                s,
                kind=filter_value(self.f_kind),
                sort=self.sort or "first_seen",
                desc=self.desc,
                page=self.page,
                per_page=self.per_page,
            )

    async def _load_detail(self) -> None:
        """The history and the counts, re-read with the list."""
        async with db.session() as s:
            history = await recon.list_discrepancies(s, history=True, per_page=HISTORY_SHOWN)
            counts = await recon.count_by_status(s)
        self.history = history.rows
        self.counts = {k: str(v) for k, v in counts.items()}

    def _on_open(self, query: Mapping[str, str]) -> None:
        """``?kind=`` filters by kind."""
        kind = str(query.get("kind", ""))
        self.f_kind = kind if kind in KIND_CHOICES[1:] else ANY

    @staff_background
    async def resolve(self, staff: Staff, form: dict[str, Any]) -> None:
        """Resolve the discrepancy ``form["id"]`` with its kind's action and the form's
        ``note`` (``admin.reconciliation.resolve_discrepancy``); the notice says the outcome
        and the lists are re-read."""
        raw = str(form.get("id", ""))
        if not raw.isdigit():
            return
        note = str(form.get("note", ""))[:900]
        await self._perform(
            lambda: recon.resolve_discrepancy(
                staff, int(raw), note=note, client=platform.sft_client()
            )
        )

    @staff_background
    async def run_now(self, staff: Staff) -> None:
        """Run the reconciliation now (``admin.reconciliation.run_now``), as the daily job
        does."""
        await self._perform(lambda: recon.run_now(staff, client=platform.sft_client()))
