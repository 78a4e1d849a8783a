"""My eSIMs: the traveler's eSIMs, order history and saved cards (ownership from the
session).

Saved cards (docs/payments.md#saved-cards) are listed as ``{"id": SavedCard.id, "label":
"Visa •••• 4242"}``: no Stripe id ever reaches the tab. Removing one removes it from the
traveler's Stripe Customer first, then the row (``services.saved_cards.remove_card``, in a
background event: it waits on Stripe).
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
from babel.dates import format_date

from travelsim import db, urls
from travelsim.formatting import data_left, left_count
from travelsim.i18n import N_, _, format_locale, localized, ngettext
from travelsim.models import OrderStatus, PurchaseKind
from travelsim.services import countries, my_esims, notifications, orders, payments, saved_cards
from travelsim.services.payments import PaymentProviderError
from travelsim.state.esim_view import INSTALL_LABELS
from travelsim.state.session import SessionState, _uid
from travelsim.state.timezone import TimezoneMixin
from travelsim.timefmt import local_datetime, zone

log = logging.getLogger(__name__)

#: Traveler words for the saved-cards card.
CARD_REMOVED = N_("The card was removed. It can no longer be used from your account.")
CARD_GONE = N_("That card is no longer saved in your account.")
CARD_REMOVE_FAILED = N_(
    "We could not remove the card just now: the payment service did not answer. "
    "The card is still saved; please try again in a minute."
)


class AccountState(TimezoneMixin, SessionState):
    esims: list[dict[str, str]] = []
    notices: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []
    #: Saved cards: ``id`` (``SavedCard.id`` as text) and ``label`` only.
    cards: list[dict[str, str]] = []
    cards_error: str = ""
    cards_notice: str = ""
    #: The card whose removal is running ("" when none).
    removing_card: str = ""

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        await self._reload(_uid(user))
        return self._ask_timezone()

    async def _on_timezone(self) -> None:
        user = await self._current_user()
        if user is not None:
            await self._reload(_uid(user))

    async def _reload(self, user_id: int) -> None:
        tz = self.tz or "UTC"
        async with db.session() as s:
            summaries = await my_esims.esims_of(s, user_id)
            views = await orders.orders_of(s, user_id)
            notes = await notifications.list_for_user(s, user_id, limit=20)
            cards = await saved_cards.list_cards(s, user_id)
        self.cards = _card_rows(cards)
        self.notices = [
            {
                "id": str(n.id),
                "title": n.title,
                "body": n.body,
                "esim_url": localized(urls.esim(n.esim_id)),
                "date": local_datetime(n.created_at, tz),
                "unread": "" if n.read_at else "yes",
            }
            for n in notes
        ]
        self.esims = [
            {
                "url": localized(urls.esim(e.esim_id)),
                "title": e.title,
                "destination": _destination(e.destination),
                "state": e.state,
                "data_state": e.data_state,
                "state_label": state_label(e),
                "install": _(INSTALL_LABELS[e.install])
                if e.install in INSTALL_LABELS
                else e.install,
                "remaining": remaining_text(e),
                "iccid": e.iccid,
            }
            for e in summaries
        ]
        self.rows = [
            {
                "order_url": localized(urls.order(v.order_id)),
                "receipt_url": localized(urls.receipt(v.order_id)),
                "reference": v.reference,
                "plan": v.plan_title,
                "status": _(ORDER_STATUS_LABELS[v.status])
                if v.status in ORDER_STATUS_LABELS
                else v.status.replace("_", " "),
                "amount": v.amount,
                "date": format_date(
                    v.created_at.astimezone(zone(tz)), "medium", locale=format_locale()
                ),
                "kind": _("Top-up") if v.kind == PurchaseKind.TOPUP else _("New eSIM"),
            }
            for v in views
        ]

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

    @rx.event
    def remove_card(self, card_id: str) -> Any:
        """The traveler confirmed removing saved card ``card_id`` (``SavedCard.id`` as
        text): mark it as being removed and do it in :meth:`remove_marked_card`."""
        if not card_id.isdigit() or len(card_id) > 18 or self.removing_card:
            return None
        self.removing_card = card_id
        self.cards_error = ""
        self.cards_notice = ""
        return AccountState.remove_marked_card

    @rx.event(background=True)
    async def remove_marked_card(self) -> None:
        """Remove the card :meth:`remove_card` marked, at Stripe then here (ownership
        checked by the service). A card that is not theirs, or already gone, is only
        dropped from the list."""
        async with self:
            card_id = self.removing_card
        if not card_id.isdigit():
            return
        try:
            user = await self._current_user()
            if user is None:
                return
            uid = _uid(user)
            error, notice = "", ""
            try:
                async with db.session() as s:
                    removed = await saved_cards.remove_card(
                        s, payments.get_provider(), uid, int(card_id)
                    )
                notice = _(CARD_REMOVED if removed else CARD_GONE)
            except PaymentProviderError as exc:
                log.warning("saved card not removed", extra={"code": exc.code})
                error = _(CARD_REMOVE_FAILED)
            async with db.session() as s:
                rows = _card_rows(await saved_cards.list_cards(s, uid))
            async with self:
                self.cards = rows
                self.cards_error = error
                self.cards_notice = notice
        finally:
            async with self:
                self.removing_card = ""


def _card_rows(cards: list[saved_cards.CardRow]) -> list[dict[str, str]]:
    return [{"id": str(c.id), "label": c.label} for c in cards]


#: Traveler words for the list, the same as the eSIM page's (a plan not started yet is
#: "not started yet" there too).
SUMMARY_LABELS = {
    "suspended": N_("suspended"),
    "unknown": N_("not reported yet"),
    "used_up": N_("used up"),
    "expired": N_("expired"),
    "no_plan": N_("no data plan"),
    "active": N_("active"),
    "waiting": N_("not started yet"),
}

#: Traveler words for an order's status in the order list.
ORDER_STATUS_LABELS: dict[str, str] = {
    OrderStatus.PAID: N_("paid"),
    OrderStatus.PROVISIONING: N_("being prepared"),
    OrderStatus.DELIVERED: N_("delivered"),
    OrderStatus.NEEDS_ATTENTION: N_("needs our attention"),
}


def state_label(e: my_esims.EsimSummary) -> str:
    """One badge word for the eSIM: suspension first, then what the data is."""
    if e.state == "suspended":
        return _(SUMMARY_LABELS["suspended"])
    if e.data_state != "live":
        return _(SUMMARY_LABELS[e.data_state])
    return _(SUMMARY_LABELS[e.state]) if e.state in SUMMARY_LABELS else e.state


def remaining_text(e: my_esims.EsimSummary) -> str:
    """``"724 MB of 1 GB left"`` in the active language, or what stands instead: used up,
    expired, not reported."""
    if e.data_state == "live" and e.remaining_bytes is not None and e.total_bytes is not None:
        left, of = data_left(e.remaining_bytes, e.total_bytes)
        n = left_count(e.remaining_bytes, e.total_bytes)
        return ngettext("{left} of {total} left", "{left} of {total} left", n).format(
            left=left, total=of
        )
    shown = {
        "used_up": N_("All data used up"),
        "expired": N_("Plan expired: no data left"),
        "no_plan": N_("No data plan"),
    }.get(e.data_state, N_("Remaining data not reported yet"))
    return _(shown)


def _destination(code: str | None) -> str:
    return countries.label(code)
