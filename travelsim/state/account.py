"""Account page: the traveler's orders and eSIMs (ownership from the session)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim import db
from travelsim.services import orders
from travelsim.state.session import SessionState, _uid


class AccountState(SessionState):
    rows: list[dict[str, str]] = []

    @rx.event
    async def load(self) -> Any:
        user = await self.require_user()
        if user is None:
            return self.signin_redirect()
        async with db.session() as s:
            views = await orders.orders_of(s, _uid(user))
        self.rows = [
            {
                "order_id": v.order_id,
                "reference": v.reference,
                "plan": v.plan_title,
                "status": v.status.replace("_", " "),
                "amount": v.amount,
                "date": v.created_at.strftime("%Y-%m-%d"),
                "esim_id": str(v.esim_id),
                "iccid": v.iccid,
                "delivered": "yes" if v.status == "delivered" else "",
            }
            for v in views
        ]
        return None
