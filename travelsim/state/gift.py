"""Gift states (docs/business-rules.md#gifts): the checkout's "this eSIM is for someone else"
box and the buyer's gift panel on the order page. Every handler re-resolves the signed-in
buyer; the services check the checkout or order is theirs. The claim page's state is in
``state/gift_claim.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx
from babel.dates import format_date

from travelsim import db, i18n, urls
from travelsim.i18n import N_, _, localized
from travelsim.models import GIFT_MESSAGE_MAX, GiftStatus
from travelsim.services import gifts, ownership
from travelsim.services.gifts import GiftError
from travelsim.settings import get_settings
from travelsim.state.session import SessionState, _uid

#: What a refused gift action says (``GiftError`` codes).
GIFT_ERRORS = {
    "email_invalid": N_("Enter the recipient's email address, like name@example.com."),
    "own_address": N_("That is your own address: a gift goes to someone else's."),
    "message_too_long": N_("The message is too long."),
    "not_giftable": N_("This checkout can no longer be changed."),
    "not_found": N_("This order was not found."),
    "not_sent": N_("The gift email can be sent again only while the gift is unclaimed."),
    "not_outstanding": N_("This gift was already claimed or taken back."),
    "rate_limited": N_("The email was just sent. Try again in a few minutes."),
}


def gift_error(code: str) -> str:
    """The traveler's words for a :class:`GiftError` code, in the active language."""
    return _(GIFT_ERRORS.get(code, N_("Something went wrong. Try again.")))


def short_date(value: datetime | None) -> str:
    """``value`` (UTC) as a day and short month in the active language: "3 Dec"."""
    if value is None:
        return ""
    return format_date(value.date(), "d MMM", locale=i18n.format_locale())


class GiftCheckoutState(SessionState):
    """The gift box of a new-eSIM checkout's pay step (the checkout id is the URL's)."""

    is_gift: bool = False
    recipient: str = ""
    message: str = ""
    #: The address the gift is saved for (empty: not a gift yet).
    saved_for: str = ""
    error: str = ""
    message_max: int = GIFT_MESSAGE_MAX

    def _checkout_id(self) -> str:
        return self.router.url.query_parameters.get("checkout", "")[:36]

    @rx.event
    async def load(self) -> None:
        self.error = ""
        self.is_gift, self.recipient, self.message, self.saved_for = False, "", "", ""
        user = await self._require_user()
        checkout_id = self._checkout_id()
        if user is None or not checkout_id:
            return
        async with db.session() as s:
            gift = await gifts.checkout_gift(s, checkout_id)
        if gift is not None and gift.buyer_id == _uid(user):
            self.is_gift, self.saved_for = True, gift.recipient_email
            self.recipient, self.message = gift.recipient_email, gift.message or ""

    @rx.event
    async def set_is_gift(self, value: bool) -> None:
        """Tick: show the form. Untick: the checkout is no longer a gift."""
        self.error = ""
        self.is_gift = value
        if value or not self.saved_for:
            return
        user = await self._require_user()
        if user is None:
            return
        try:
            async with db.session() as s:
                await gifts.unmark_checkout(s, user_id=_uid(user), checkout_id=self._checkout_id())
                await s.commit()
        except GiftError as exc:
            self.error = gift_error(exc.code)
            return
        self.saved_for = ""

    @rx.event
    async def save(self, form: dict[str, Any]) -> None:
        """Save the recipient and message (``form``: ``recipient``, ``message``)."""
        self.error = ""
        user = await self._require_user()
        if user is None:
            self.error = gift_error("not_found")
            return
        self.recipient = str(form.get("recipient", ""))[:254]
        self.message = str(form.get("message", ""))[: GIFT_MESSAGE_MAX + 1]
        try:
            async with db.session() as s:
                gift = await gifts.mark_checkout(
                    s,
                    buyer=user,
                    checkout_id=self._checkout_id(),
                    recipient=self.recipient,
                    message=self.message,
                    locale=i18n.current(),
                )
                await s.commit()
        except GiftError as exc:
            self.error = gift_error(exc.code)
            return
        self.saved_for, self.recipient = gift.recipient_email, gift.recipient_email


class GiftPanelState(SessionState):
    """The buyer's gift panel on the order page (the order id is the URL's)."""

    #: ``""`` (no gift), ``ordered``, ``sent`` or ``claimed``.
    status: str = ""
    line: str = ""
    can_resend: bool = False
    can_take_back: bool = False
    notice: str = ""
    error: str = ""

    def _order_id(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1][:36]

    @rx.event
    async def load(self) -> None:
        self.notice = self.error = ""
        await self._refresh()

    async def _refresh(self) -> None:
        user = await self._require_user()
        panel = None
        if user is not None:
            async with db.session() as s:
                order = await ownership.bought_order(s, _uid(user), self._order_id())
                panel = await gifts.buyer_panel(s, order) if order is not None else None
        self._show(panel)

    def _show(self, panel: gifts.GiftPanel | None) -> None:
        self.status = panel.status if panel else ""
        self.can_resend = bool(panel and panel.can_resend)
        self.can_take_back = bool(panel and panel.can_take_back)
        if panel is None:
            self.line = ""
        elif panel.status == GiftStatus.CLAIMED:
            self.line = _("Sent to {address}; claimed on {date}.").format(
                address=panel.recipient, date=short_date(panel.claimed_at)
            )
        elif panel.status == GiftStatus.SENT:
            self.line = _("Sent to {address} on {date}; not claimed yet.").format(
                address=panel.recipient, date=short_date(panel.sent_at)
            )
        else:
            self.line = _("For {address}: we email them once the eSIM is ready.").format(
                address=panel.recipient
            )

    async def _act(self, action: str) -> None:
        self.notice = self.error = ""
        user = await self._require_user()
        if user is None:
            self.error = gift_error("not_found")
            return
        call = gifts.resend if action == "resend" else gifts.take_back
        try:
            async with db.session() as s:
                await call(
                    s,
                    user_id=_uid(user),
                    order_id=self._order_id(),
                    public_url=get_settings().public_url,
                )
                await s.commit()
        except GiftError as exc:
            self.error = gift_error(exc.code)
        else:
            self.notice = (
                _("The gift email was sent again.")
                if action == "resend"
                else _("The gift was taken back: the eSIM is yours now.")
            )
        await self._refresh()

    @rx.event
    async def resend(self) -> None:
        """Send the claim email again (a new link; earlier ones keep working)."""
        await self._act("resend")

    @rx.event
    async def take_back(self) -> Any:
        """Cancel the gift; the eSIM becomes the buyer's (the page reloads its links)."""
        await self._act("take_back")
        if not self.error:
            return rx.redirect(localized(urls.order(self._order_id())))
        return None
