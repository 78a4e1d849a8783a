"""Buy more data for an existing eSIM: choose a plan, see the result, then pay.

No new eSIM and no new QR: the add-on is subscribed to the same endpoint. The preview
follows the platform's documented add-on rules (:mod:`travelsim.services.topup`); a
refusal (15 live add-ons, suspended by staff) is shown before any payment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from travelsim import db, urls
from travelsim.formatting import format_bytes
from travelsim.i18n import N_, _, localized, ngettext
from travelsim.models import PurchaseKind, utcnow
from travelsim.services import catalogue, checkout, ownership, plan_texts, platform, topup
from travelsim.state.currency import traveler_currency
from travelsim.state.esim import support_links
from travelsim.state.session import SessionState, _uid
from travelsim.timefmt import local_datetime

STARTS = {
    "started": N_("running"),
    "now": N_("starts now"),
    "first_use": N_("starts at first use"),
    "after_previous": N_("starts when the plans before it end"),
    "at_activation": N_("starts when the eSIM is activated"),
}

#: Refusals (``topup.check_topup_allowed`` codes) whose message says "contact support".
SUPPORT_REFUSALS = frozenset({"no_sim", "suspended_by_staff", "suspended_unknown"})


class TopupState(SessionState):
    esim_id: str = ""
    #: The eSIM's page (the way back).
    esim_url: str = ""
    not_found: bool = False
    offers: list[dict[str, str]] = []
    selected: str = ""
    preview: list[dict[str, str]] = []
    totals: str = ""
    allowed: bool = True
    refusal: str = ""
    hint: str = ""
    error: str = ""
    busy: bool = False
    tz: str = ""
    #: Support contact named next to a refusal (``email``/``url``/``phone``/``tel``, "" unset).
    support: dict[str, str] = {}

    @rx.event
    async def load(self) -> Any:
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        raw = self.router.url.path.rstrip("/").rsplit("/", 2)[-2]
        self.esim_id = raw if raw.isdigit() else ""
        self.esim_url = localized(urls.esim(self.esim_id))
        self.selected, self.preview, self.totals, self.error = "", [], "", ""
        async with db.session() as s:
            esim = await ownership.owned_esim(
                s, _uid(user), int(self.esim_id) if self.esim_id else None
            )
            if esim is None:
                self.not_found = True
                return None
            self.not_found = False
            plans = await catalogue.sellable_plans(s)
            texts = await plan_texts.texts_for(s, (p.plan_id for p in plans))
            prices = await catalogue.plan_prices(s)
        currency = await traveler_currency(self, user)
        if esim.destination:
            offers = catalogue.offers_for_country(
                plans, esim.destination, currency, prices, texts=texts
            )
        else:
            offers = [
                catalogue.to_offer(p, currency, prices.get(p.plan_id), texts=texts) for p in plans
            ]
        self.offers = [
            {
                "plan_id": o.plan_id,
                "title": o.title,
                "volume": o.volume,
                "validity": o.validity,
                "price": o.price,
                "price_note": o.price_note,
                "starts_on": o.starts_on,
                "starts_label": _("starts at {when}").format(when=o.starts_on),
            }
            for o in offers
        ]
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone", callback=TopupState.set_tz
        )

    @rx.event
    def set_tz(self, tz: Any) -> None:
        self.tz = str(tz)[:64] if tz else ""

    @rx.event
    async def choose(self, plan_id: str) -> None:
        """Show what the eSIM will have after adding ``plan_id`` (no payment yet)."""
        user = await self._require_user()
        if user is None or not self.esim_id:
            return
        if plan_id not in {o["plan_id"] for o in self.offers}:
            return
        async with db.session() as s:
            offer = await topup.topup_offer(
                s, user_id=_uid(user), esim_id=int(self.esim_id), plan_id=plan_id, now=utcnow()
            )
            # Every plan named as the catalogue names it, in the page's language.
            ids = [p.plan_id for p in offer.previews] if offer else []
            names = await plan_texts.plan_titles(s, ids)
        if offer is None:
            self.not_found = True
            return
        self.selected = plan_id
        self.allowed = offer.decision.allowed
        self.refusal = "" if offer.decision.allowed else _(offer.decision.message or "")
        # Every refusal but the add-on limit sends the traveler to support: name it.
        self.support = support_links() if offer.decision.refusal in SUPPORT_REFUSALS else {}
        self.hint = _(offer.decision.message or "") if offer.decision.resume_first else ""
        tz = self.tz or "UTC"
        self.preview = [
            {
                "name": (
                    _("{plan} (new)").format(plan=_name(p, names)) if p.is_new else _name(p, names)
                ),
                "new": "yes" if p.is_new else "",
                "order": str(p.order),
                "data": (
                    _("{remaining} of {total}").format(
                        remaining=format_bytes(p.remaining_bytes), total=format_bytes(p.total_bytes)
                    )
                    if p.total_bytes is not None
                    else format_bytes(p.remaining_bytes)
                ),
                "expiry": (
                    local_datetime(p.expires_at, tz)
                    if p.expires_at
                    else (
                        ngettext(
                            "{n} day after it starts", "{n} days after it starts", p.validity_days
                        ).format(n=p.validity_days)
                        if p.validity_days
                        else ""
                    )
                ),
                "starts": _(STARTS[p.starts]) if p.starts in STARTS else p.starts,
            }
            for p in offer.previews
        ]
        if offer.remaining_after is not None and offer.total_after is not None:
            self.totals = _("{remaining} of {total} in total after this purchase").format(
                remaining=format_bytes(offer.remaining_after), total=format_bytes(offer.total_after)
            )
        else:
            self.totals = ""

    @rx.event
    async def start(self) -> AsyncIterator[Any]:
        """Open the top-up checkout (no charge yet); the button is disabled meanwhile and a
        second click reuses the same open checkout (``checkout.start_checkout``)."""
        if self.busy or not self.selected or not self.allowed:
            return
        user = await self._require_user()
        if user is None:
            yield self._signin_redirect()
            return
        self.busy = True
        self.error = ""
        yield None
        try:
            async with db.session() as s:
                esim = await ownership.owned_esim(s, _uid(user), int(self.esim_id))
                co = await checkout.start_checkout(
                    s,
                    user=user,
                    plan_id=self.selected,
                    destination=esim.destination if esim else None,
                    kind=PurchaseKind.TOPUP,
                    esim_id=int(self.esim_id),
                    client=platform.sft_client(),
                    device_confirmed=True,
                    client_ip=self.router.session.client_ip or None,
                    currency=await traveler_currency(self, user),
                )
        except checkout.CheckoutError as exc:
            self.error = _(exc.message)
            self.busy = False
            return
        self.busy = False
        yield rx.redirect(localized(urls.buy(self.selected, to=co.destination, checkout=co.id)))


def _name(p: topup.AddonPreview, names: dict[str, str]) -> str:
    """A preview row's plan name: the catalogue's (``plan_texts.plan_titles``), else the
    platform's, else the plan id."""
    return names.get(p.plan_id) or p.plan_name or p.plan_id
