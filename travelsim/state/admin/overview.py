"""``/admin``: the business at a glance (figures, platform reachability, background jobs)."""

from __future__ import annotations

from typing import Any

from travelsim import db
from travelsim.services import admin, platform, reconciliation
from travelsim.services.admin import Staff
from travelsim.state.admin.base import AdminPage, AdminState, staff_background


class AdminOverviewState(AdminPage, AdminState):
    """``/admin``: the business at a glance."""

    figures: dict[str, str] = {}
    revenue_today: list[str] = []
    revenue_30d: list[str] = []
    jobs: list[dict[str, str]] = []
    callbacks: dict[str, str] = {}
    unrecognised: list[dict[str, str]] = []
    low_stock: bool = False
    sft_status: str = "checking…"
    sft_ok: bool = False

    def _forget(self) -> None:
        self.figures, self.jobs, self.callbacks, self.unrecognised = {}, [], {}, []
        self.revenue_today, self.revenue_30d = [], []

    async def _open(self) -> Any:
        """Load the figures, then check SFT in the background."""
        async with db.session() as s:
            view = await admin.overview(s)
            discrepancies = await reconciliation.open_count(s)
        self.figures = {
            "orders_today": str(view.orders_today),
            "delivered_today": str(view.delivered_today),
            "delivered_total": str(view.delivered_total),
            "free_esims": str(view.free_esims),
            "threshold": str(view.low_stock_threshold),
            "needs_attention": str(view.needs_attention),
            "flagged": str(view.flagged_payments),
            "replacements": str(view.open_replacements),
            "failed_emails": str(view.failed_emails),
            "discrepancies": str(discrepancies),
        }
        self.low_stock = view.free_esims < view.low_stock_threshold
        self.revenue_today = view.revenue_today
        self.revenue_30d = view.revenue_30d
        self.jobs = view.jobs
        self.callbacks = view.callbacks
        self.unrecognised = view.unrecognised
        self.sft_status = "checking…"
        return AdminOverviewState.check_sft

    @staff_background
    async def check_sft(self, staff: Staff) -> None:
        """One cheap SFT call to show reachability."""
        ok, text = await admin.check_sft(platform.sft_client())
        async with self:
            self.sft_ok = ok
            self.sft_status = text
