"""Receipt page state (owner only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.i18n import N_, _
from travelsim.models import Checkout, Esim, Order
from travelsim.services import countries, orders, tax
from travelsim.settings import get_settings
from travelsim.state.session import SessionState, _uid
from travelsim.timefmt import local_datetime

#: ``Order.status`` as the receipt names it (translated where shown).
ORDER_STATUS = {
    "paid": N_("paid"),
    "provisioning": N_("being set up"),
    "delivered": N_("delivered"),
    "needs_attention": N_("being looked into"),
}


class ReceiptState(SessionState):
    found: bool = False
    receipt: dict[str, str] = {}
    seller: dict[str, str] = {}
    #: When the order was paid (UTC), kept on the server to format in the viewer's zone.
    _date: datetime | None = None

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        order_id = self.router.url.path.rstrip("/").rsplit("/", 2)[-2][:36]
        settings = get_settings()
        async with db.session() as s:
            rates = await tax.rates_in_force(s)
            r = await orders.receipt_view(
                s,
                order_id=order_id,
                user_id=_uid(user),
                fallback_rate_bp=rates[settings.seller_country],
            )
            destination = await _destination_of(s, order_id) if r is not None else ""
        self.found = r is not None
        if r is None:
            return None
        self._date = r.date
        self.receipt = {
            "reference": r.reference,
            "date": local_datetime(r.date, "UTC"),  # until the browser's zone arrives
            "email": r.customer_email,
            "description": r.description,
            "iccid": r.iccid,
            "net": r.net,
            "vat": r.vat,
            "vat_rate": r.vat_rate,
            "vat_label": _("VAT {rate} %").format(rate=r.vat_rate),
            "invoice_number": r.invoice_number,
            "country": r.customer_country,
            "credit_note": r.credit_note_number,
            "credit_note_text": _("Refunded in full: {total}, of which VAT {vat}.").format(
                total=r.total, vat=r.vat
            )
            if r.credit_note_number
            else "",
            "vat_note": _("Not subject to EU VAT: customer outside the EU") if r.outside_eu else "",
            "total": r.total,
            "payment": r.payment,
            "status": _(ORDER_STATUS[r.status])
            if r.status in ORDER_STATUS
            else r.status.replace("_", " "),
            "destination": destination,
        }
        self.seller = {
            "name": settings.seller_name,
            "address": settings.seller_address,
            "vat_number": settings.seller_vat_number,
        }
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=ReceiptState.set_timezone,
        )

    @rx.event
    def set_timezone(self, tz: Any) -> None:
        """Show the date in the browser's IANA zone (named, e.g. "CET"); UTC if unknown."""
        if self._date is not None and self.receipt:
            self.receipt["date"] = local_datetime(self._date, str(tz)[:64] if tz else "UTC")


async def _destination_of(session: AsyncSession, order_id: str) -> str:
    """Flag and country of what order ``order_id`` bought ("🇫🇷 France"): the destination
    chosen at checkout, else the eSIM's; "" when none is known. The caller has already
    checked that the order is the viewer's (``orders.receipt_view``)."""
    order = await session.get(Order, order_id)
    if order is None:
        return ""
    checkout = await session.get(Checkout, order.checkout_id) if order.checkout_id else None
    code = checkout.destination if checkout is not None else None
    if not code:
        esim = await session.get(Esim, order.esim_id) if order.esim_id else None
        code = esim.destination if esim is not None else None
    return countries.label(code)
