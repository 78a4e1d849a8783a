"""My eSIMs: the traveler's eSIMs and order history (ownership from the session)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim import db
from travelsim.formatting import format_bytes
from travelsim.services import countries, notifications, orders, usage
from travelsim.state.esim import INSTALL_LABELS
from travelsim.state.session import SessionState, _uid


class AccountState(SessionState):
    esims: list[dict[str, str]] = []
    notices: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        async with db.session() as s:
            summaries = await usage.esims_of(s, _uid(user))
            views = await orders.orders_of(s, _uid(user))
            notes = await notifications.list_for_user(s, _uid(user), limit=20)
        self.notices = [
            {
                "id": str(n.id),
                "title": n.title,
                "body": n.body,
                "esim_id": str(n.esim_id),
                "date": n.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                "unread": "" if n.read_at else "yes",
            }
            for n in notes
        ]
        self.esims = [
            {
                "esim_id": str(e.esim_id),
                "title": e.title,
                "destination": _destination(e.destination),
                "state": e.state,
                "install": INSTALL_LABELS.get(e.install, e.install),
                "remaining": (
                    f"{format_bytes(e.remaining_bytes)} of {format_bytes(e.total_bytes)} left"
                    if e.remaining_bytes is not None and e.total_bytes is not None
                    else "remaining data unknown"
                ),
                "iccid": e.iccid,
            }
            for e in summaries
        ]
        self.rows = [
            {
                "order_id": v.order_id,
                "reference": v.reference,
                "plan": v.plan_title,
                "status": v.status.replace("_", " "),
                "amount": v.amount,
                "date": v.created_at.strftime("%Y-%m-%d"),
                "kind": "Top-up" if v.kind == "topup" else "New eSIM",
            }
            for v in views
        ]
        return None

    @rx.event
    async def mark_read(self, notification_id: str) -> None:
        """Mark one of this traveler's notices read (ownership checked by the service)."""
        user = await self._require_user()
        if user is None or not notification_id.isdigit():
            return
        async with db.session() as s:
            if await notifications.mark_read(s, _uid(user), int(notification_id)):
                self.notices = [
                    {**n, "unread": ""} if n["id"] == notification_id else n for n in self.notices
                ]


def _destination(code: str | None) -> str:
    if not code:
        return ""
    c = countries.country(code)
    return f"{c.flag} {c.name}"
