"""The automatic top-up section of the eSIM page (``/esims/<id>``): the rule, its statement,
its charges and the next trigger point (``services.auto_topup``;
docs/business-rules.md#automatic-top-up).

Every handler resolves the signed-in traveler from the server-side session and the service
re-checks that the eSIM is theirs (``ownership.owned_esim``); the eSIM id is taken from the
route, never from the event's arguments.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from travelsim import db, i18n, urls
from travelsim.formatting import format_bytes, format_money
from travelsim.i18n import N_, _, localized
from travelsim.models import AutoTopupChargeStatus
from travelsim.services import auto_topup, catalogue, consent, figures_hooks, live
from travelsim.services.auto_topup_fire import on_figures
from travelsim.settings import get_settings
from travelsim.state.currency import traveler_currency
from travelsim.state.language import page_locale
from travelsim.state.session import SessionState, _uid
from travelsim.state.timezone import TimezoneMixin
from travelsim.timefmt import local_datetime

#: A traveler's refresh (the usage sync) fires automatic top-ups in this process too.
figures_hooks.register(on_figures)

#: Threshold choices offered on the page: ``"<kind>:<value>"``.
THRESHOLDS = ("bytes:104857600", "bytes:209715200", "bytes:524288000", "percent:10", "percent:20")


#: What each charge did, as the list says it.
CHARGE_LABELS: dict[str, str] = {
    AutoTopupChargeStatus.PENDING: N_("being bought"),
    AutoTopupChargeStatus.CHARGED: N_("bought"),
    AutoTopupChargeStatus.REQUIRES_ACTION: N_("waiting for your confirmation"),
    AutoTopupChargeStatus.DECLINED: N_("declined"),
    AutoTopupChargeStatus.CAPPED: N_("not bought: monthly limit"),
    AutoTopupChargeStatus.SKIPPED: N_("not bought"),
    AutoTopupChargeStatus.FAILED: N_("not bought: payment error"),
}


def _threshold_label(kind: str, value: int) -> str:
    return f"{value} %" if kind == "percent" else format_bytes(value)


async def _fetch(
    user_id: int, esim_id: int
) -> tuple[auto_topup.AutoTopupView | None, dict[str, dict[str, int]]]:
    """The rule's view (``None``: not the traveler's eSIM) and the plans' prices."""
    async with db.session() as s:
        v = await auto_topup.view(s, user_id=user_id, esim_id=esim_id)
        prices = await catalogue.plan_prices(s) if v is not None else {}
    return v, {k: dict(p) for k, p in prices.items()}


#: How long an open page watches for automatic charges (as the eSIM page's own watch).
WATCH_SECONDS = 15 * 60


class AutoTopupState(TimezoneMixin, SessionState):
    esim_id: str = ""
    enabled: bool = False
    rule_text: str = ""
    stop_text: str = ""
    next_text: str = ""
    charges: list[dict[str, str]] = []
    plans: list[dict[str, str]] = []
    cards: list[dict[str, str]] = []
    thresholds: list[dict[str, str]] = []
    threshold: str = THRESHOLDS[1]
    plan_id: str = ""
    card_id: str = ""
    cap: str = "2"
    statement: str = ""
    confirming: bool = False
    error: str = ""
    cards_url: str = ""
    watching: bool = False

    def _route_esim(self) -> int | None:
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(raw) if raw.isdigit() else None

    @rx.event
    async def load(self) -> Any:
        """Read the rule of the route's eSIM for its signed-in owner."""
        user = await self._require_user()
        esim_id = self._route_esim()
        self.esim_id, self.confirming, self.error = "", False, ""
        if user is None or esim_id is None:
            return None
        await self._read(_uid(user), esim_id, await traveler_currency(self, user))
        return [self._ask_timezone(), AutoTopupState.watch] if self.esim_id else None

    async def _on_timezone(self) -> None:
        user = await self._current_user()
        esim_id = self._route_esim()
        if user is not None and esim_id is not None:
            await self._read(_uid(user), esim_id, await traveler_currency(self, user))

    @rx.event(background=True)
    async def watch(self) -> None:
        """Re-read the rule and its charges while the page is open: woken by
        ``live.notify`` (the firing notifies once a charge or a stop is committed) or every
        ``LIVE_POLL_SECONDS``; the session is re-checked on each wake, and an eSIM that is no
        longer the traveler's stops the watch (its id is dropped by ``_read``)."""
        async with self:
            esim_id = self._route_esim()
            if self.watching or esim_id is None or self.esim_id != str(esim_id):
                return
            self.watching = True
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WATCH_SECONDS
            with live.watching(esim_id) as changes:
                while loop.time() < deadline:
                    await changes.wait(get_settings().live_poll_seconds)
                    user = await self._current_user()
                    if user is None:
                        return  # signed out: stop watching
                    # Read outside the state's lock; apply under it.
                    fetched = await _fetch(_uid(user), esim_id)
                    currency = await traveler_currency(self, user)
                    async with self:
                        if self.esim_id != str(esim_id):
                            return
                        with i18n.using(page_locale(self)):
                            self._apply(*fetched, esim_id, currency)
                        if self.esim_id != str(esim_id):
                            return
        finally:
            async with self:
                self.watching = False

    async def _read(self, user_id: int, esim_id: int, currency: str | None) -> None:
        self._apply(*await _fetch(user_id, esim_id), esim_id, currency)

    def _apply(
        self,
        v: auto_topup.AutoTopupView | None,
        prices: dict[str, dict[str, int]],
        esim_id: int,
        currency: str | None,
    ) -> None:
        if v is None:
            self.esim_id = ""
            return
        self.esim_id = str(esim_id)
        self.cards_url = localized("/account")
        names = {p.plan_id: p.display_name or p.sft_name for p in v.plans}
        self.plans = []
        for p in v.plans:
            amount, cur = catalogue.price_in(p, currency, prices.get(p.plan_id))
            label = f"{names[p.plan_id]} · {format_money(amount, cur)}"
            self.plans.append({"id": p.plan_id, "label": label, "price": format_money(amount, cur)})
        self.cards = [{"id": str(c.id), "label": c.label} for c in v.cards]
        self.thresholds = [
            {"id": t, "label": _threshold_label(t.split(":")[0], int(t.split(":")[1]))}
            for t in THRESHOLDS
        ]
        self.plan_id = self.plan_id or (self.plans[0]["id"] if self.plans else "")
        self.card_id = self.card_id or (self.cards[0]["id"] if self.cards else "")
        rule = v.rule
        self.enabled = bool(rule and rule.enabled)
        self.stop_text = (
            _(auto_topup.STOP_MESSAGES[rule.stop_reason])
            if rule and not rule.enabled and rule.stop_reason in auto_topup.STOP_MESSAGES
            else ""
        )
        self.rule_text, self.next_text = "", ""
        if rule is not None and rule.enabled:
            card = next((c.label for c in v.cards if c.id == rule.saved_card_id), "")
            plan = next((p for p in self.plans if p["id"] == rule.plan_id), None)
            self.rule_text = self._statement(
                _threshold_label(rule.threshold_kind, rule.threshold_value),
                names.get(rule.plan_id, rule.plan_id),
                plan["price"] if plan else "",
                card,
                rule.monthly_cap,
            )
            if v.threshold is not None:
                self.next_text = _(
                    "Next top-up when data left falls to {threshold} (now {now})."
                ).format(threshold=format_bytes(v.threshold), now=format_bytes(v.remaining))
        self.charges = [
            {
                "at": local_datetime(c.at, self.tz or "UTC"),
                "plan": names.get(c.plan_id, c.plan_id),
                "amount": format_money(c.amount_minor, c.currency) if c.currency else "",
                "status": _(
                    CHARGE_LABELS.get(c.status, CHARGE_LABELS[AutoTopupChargeStatus.FAILED])
                ),
                "order_url": localized(urls.order(c.order_id)) if c.order_id else "",
                "pay_url": (
                    localized(urls.buy(c.plan_id, checkout=c.checkout_id))
                    if c.status == AutoTopupChargeStatus.REQUIRES_ACTION
                    and c.checkout_id
                    and not self.enabled
                    else ""
                ),
            }
            for c in v.charges
        ]

    @staticmethod
    def _statement(threshold: str, plan: str, price: str, card: str, cap: int) -> str:
        return _(
            "When data left falls to {threshold}, we buy '{plan}' for {price} with {card}, at "
            "most {cap} times per calendar month (UTC). You get an email after every charge."
        ).format(threshold=threshold, plan=plan, price=price, card=card, cap=cap)

    @rx.event
    def set_threshold(self, value: str) -> None:
        self.threshold, self.confirming = (value if value in THRESHOLDS else THRESHOLDS[1]), False

    @rx.event
    def set_plan(self, value: str) -> None:
        self.plan_id, self.confirming = value[:32], False

    @rx.event
    def set_card(self, value: str) -> None:
        self.card_id, self.confirming = value[:12], False

    @rx.event
    def set_cap(self, value: str) -> None:
        ok = value.isdigit() and 1 <= int(value) <= auto_topup.MAX_CAP
        self.cap, self.confirming = (value if ok else "2"), False

    @rx.event
    async def review(self) -> None:
        """Show the statement of the chosen rule; nothing is saved until :meth:`confirm`."""
        user = await self._require_user()
        if user is None or not self.esim_id:
            return
        kind, value = self.threshold.split(":")
        plan = next((p for p in self.plans if p["id"] == self.plan_id), None)
        card = next((c for c in self.cards if c["id"] == self.card_id), None)
        if plan is None or card is None:
            self.error = _("Choose a plan and a saved card.")
            return
        name = plan["label"].rsplit(" · ", 1)[0]
        label = _threshold_label(kind, int(value))
        self.statement = self._statement(label, name, plan["price"], card["label"], int(self.cap))
        self.confirming, self.error = True, ""

    @rx.event
    async def confirm(self) -> None:
        """Turn the rule on as reviewed (the traveler's explicit confirmation)."""
        user = await self._require_user()
        esim_id = self._route_esim()
        if user is None or esim_id is None or not self.confirming:
            return
        kind, value = self.threshold.split(":")
        currency = await traveler_currency(self, user)
        try:
            async with db.session() as s:
                await auto_topup.enable(
                    s,
                    user_id=_uid(user),
                    esim_id=esim_id,
                    kind=kind,
                    value=int(value),
                    plan_id=self.plan_id,
                    saved_card_id=int(self.card_id) if self.card_id.isdigit() else 0,
                    monthly_cap=int(self.cap),
                    currency=currency,
                    acceptance=consent.Acceptance.given_now(),
                )
        except auto_topup.AutoTopupError:
            self.error = _("That rule could not be saved. Check the plan and the card.")
            return
        self.confirming = False
        await self._read(_uid(user), esim_id, currency)

    @rx.event
    def cancel(self) -> None:
        self.confirming = False

    @rx.event
    async def turn_off(self) -> None:
        """Turn the rule off (any time)."""
        user = await self._require_user()
        esim_id = self._route_esim()
        if user is None or esim_id is None:
            return
        async with db.session() as s:
            await auto_topup.disable(s, user_id=_uid(user), esim_id=esim_id)
        await self._read(_uid(user), esim_id, await traveler_currency(self, user))

    @rx.event
    async def reload(self) -> None:
        """Read the rule and its charges again (after a purchase, from the page)."""
        user = await self._require_user()
        esim_id = self._route_esim()
        if user is not None and esim_id is not None:
            await self._read(_uid(user), esim_id, await traveler_currency(self, user))
