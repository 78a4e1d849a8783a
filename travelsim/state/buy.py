"""Checkout: confirm destination and device, reserve an eSIM, pay once, then watch the order.

The checkout id travels in the URL (``/buy/<plan>?checkout=<id>``) so a reload resumes
the same checkout; it is also the payment's idempotency key, so double clicks, reloads and
retries never charge twice. Card details go from the form to the payment provider in
one event and are never kept in state. What the page shows for the checkout in its URL is the
checkout service's (``checkout.checkout_page``); a paid order's provisioning is started by the
payment service (``checkout_payment``), the order page only watches it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, urls
from travelsim.models import CheckoutStatus, Esim, Plan, User
from travelsim.services import (
    catalogue,
    checkout,
    checkout_outcome,
    checkout_payment,
    countries,
    payments,
    platform,
)
from travelsim.services.checkout_outcome import PayStatus
from travelsim.settings import get_settings
from travelsim.state.session import SessionState, _uid

ERRORS = {
    "unknown_plan": "This plan is not on sale any more. Please choose another one.",
    "sold_out": "Sorry, we are out of eSIMs right now. You have not been charged.",
    "confirm_device": "Please confirm your phone supports eSIM and is carrier-unlocked.",
    "not_found": "We could not find that checkout.",
    "expired": "This checkout expired. Please start again; you have not been charged.",
    "card_declined": "Your card was declined. You have not been charged; try another card.",
    "invalid_number": "That card number is not valid.",
    "invalid_expiry": "That expiry date is not valid or has passed.",
    "invalid_cvc": "The security code must be 3 or 4 digits.",
    "authentication_failed": "The verification code was not accepted. Try again.",
    "bad_destination": "Please choose a destination this plan covers.",
}


class BuyState(SessionState):
    plan_id: str = ""
    plan: dict[str, str] = {}
    destinations: list[dict[str, str]] = []
    destination: str = ""
    device_esim: bool = False
    device_unlocked: bool = False
    checkout_id: str = ""
    #: loading | confirm | pay | action | not_found | expired (the checkout in the URL can no
    #: longer be paid: one button starts again) | price_changed (the plan's price moved since
    #: the checkout opened: ``price_message`` says from what to what, one button accepts it).
    step: str = "loading"
    price_message: str = ""
    #: Where "Start again" goes from the ``expired`` step: this plan's page (new eSIM) or the
    #: top-up page of the eSIM.
    restart_url: str = ""
    #: ``new_esim`` or ``topup`` (the checkout in the URL adds data to an eSIM already owned).
    #: This checkout buys more data for an eSIM the traveler has (else a new eSIM).
    is_topup: bool = False
    #: The chosen destination as shown: flag and country name, e.g. "🇫🇷 France".
    destination_label: str = ""
    #: For a top-up: the eSIM the data is added to (``name``, ``iccid_tail``, ``destination``).
    target: dict[str, str] = {}
    error: str = ""
    busy: bool = False

    @rx.event
    async def load(self) -> Any:
        self.error = ""
        self.busy = False
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        self.plan_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        params = self.router.url.query_parameters
        async with db.session() as s:
            plan = await s.get(Plan, self.plan_id)
            if plan is None or not plan.sellable:
                self.step = "not_found"
                return None
            offer = catalogue.to_offer(plan)
            self.plan = {k: str(v) for k, v in offer.as_dict().items() if k != "destinations"}
            self.destinations = [
                {"code": c.code, "label": f"{c.flag} {c.name}"}
                for c in sorted(
                    (countries.country(code) for code in plan.destinations), key=lambda c: c.name
                )
            ]
            wanted = params.get("to", "").upper()
            codes = {d["code"] for d in self.destinations}
            self.destination = (
                wanted
                if wanted in codes
                else (self.destinations[0]["code"] if len(self.destinations) == 1 else "")
            )
            checkout_id = params.get("checkout", "")
            self.checkout_id = ""
            self.price_message = ""
            self.restart_url = urls.buy(self.plan_id, to=self.destination or None)
            self.is_topup = False
            self.target = {}
            self.step = "confirm"
            if checkout_id:
                shown = await checkout.checkout_page(
                    s, checkout_id=checkout_id, user_id=_uid(user), plan_id=self.plan_id
                )
                if not shown.found:
                    self.error = ERRORS["not_found"]
                    return None
                if shown.order_id is not None:
                    return rx.redirect(urls.order(shown.order_id))
                if shown.target is not None:
                    self.is_topup = True
                    self.target = _esim_target(shown.target)
                self.restart_url = (
                    urls.topup(shown.target.id or "")
                    if shown.target is not None
                    else urls.buy(self.plan_id, to=self.destination or None)
                )
                if shown.open:
                    self.checkout_id = shown.checkout_id
                    self.destination = shown.destination or self.destination
                    self.step = shown.step
                elif shown.closed_status == CheckoutStatus.EXPIRED:
                    self.step = "expired"  # not an error: one button starts again
                else:
                    self.error = ERRORS.get(shown.closed_status or "", ERRORS["expired"])
        self.destination_label = countries.label(self.destination)
        return None

    @rx.event
    def set_destination(self, code: str) -> None:
        self.destination = code
        self.destination_label = countries.label(code)

    @rx.event
    def set_device_esim(self, value: bool) -> None:
        self.device_esim = value

    @rx.event
    def set_device_unlocked(self, value: bool) -> None:
        self.device_unlocked = value

    @rx.event
    async def start(self) -> AsyncIterator[Any]:
        """Reserve an eSIM for this traveler's checkout (no charge yet).

        The button is disabled while this runs (``busy`` is sent before the reservation);
        a second click that still gets through reuses the same checkout
        (``checkout.start_checkout``: one open checkout per traveler and plan)."""
        if self.busy:
            return
        if not (self.device_esim and self.device_unlocked):
            self.error = ERRORS["confirm_device"]
            return
        if self.destination not in {d["code"] for d in self.destinations}:
            self.error = ERRORS["bad_destination"]
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
                co = await checkout.start_checkout(
                    s,
                    user=user,
                    plan_id=self.plan_id,
                    destination=self.destination,
                    client=platform.sft_client(),
                    reservation_minutes=get_settings().checkout_reservation_minutes,
                    device_confirmed=True,
                    client_ip=self.router.session.client_ip or None,
                )
        except checkout.CheckoutError as exc:
            self.error = ERRORS.get(exc.code, exc.message)
            self.busy = False
            return
        # ``busy`` stays True until the checkout page loads (``load`` resets it), so the
        # button cannot be clicked again on the way there.
        yield rx.redirect(urls.buy(self.plan_id, to=self.destination, checkout=co.id))

    @rx.event
    async def pay(self, form: dict[str, Any]) -> Any:
        """Charge the card for this checkout (idempotent on the checkout id)."""
        card = payments.Card(
            number=str(form.get("card_number", "")),
            expiry=str(form.get("card_expiry", "")),
            cvc=str(form.get("card_cvc", "")),
        )
        async for step in self._payment_step(
            lambda s, user: checkout_payment.pay(
                s,
                payments.demo_provider(),
                checkout_id=self.checkout_id,
                user=user,
                card=card,
                device_confirmed=True,
            )
        ):
            yield step

    @rx.event
    async def confirm_action(self, form: dict[str, Any]) -> Any:
        """Second step of a card that needs it (3-D Secure style code)."""
        code = str(form.get("code", ""))[:12]
        async for step in self._payment_step(
            lambda s, user: checkout_payment.confirm_payment(
                s,
                payments.demo_provider(),
                checkout_id=self.checkout_id,
                user=user,
                code=code,
            )
        ):
            yield step

    async def _payment_step(
        self, call: Callable[[AsyncSession, User], Awaitable[checkout_outcome.PayOutcome]]
    ) -> AsyncIterator[Any]:
        """Run one payment call for the signed-in owner: button disabled meanwhile (the
        checkout id makes a second click harmless anyway), errors shown, then the outcome."""
        if self.busy or not self.checkout_id:
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
                outcome = await call(s, user)
        except checkout.CheckoutError as exc:
            if exc.code == "expired":
                self.step = "expired"
                return
            if exc.code == "price_changed":
                self.step, self.price_message = "price_changed", exc.message
                await self._refresh_plan()  # the summary and the button show today's price
                return
            self.error = ERRORS.get(exc.code, exc.message)
            if exc.code == "no_pending_payment" and self.step == "action":
                # Nothing left to confirm (e.g. declined meanwhile): the card form is the
                # only way on; the reservation is still held for this checkout.
                self.step = "pay"
            return
        finally:
            self.busy = False
        yield self._after_payment(outcome)

    async def _refresh_plan(self) -> None:
        """Re-read the plan summary (``plan``: price, title...) from the catalogue."""
        async with db.session() as s:
            plan = await s.get(Plan, self.plan_id)
        if plan is not None and plan.sellable:
            offer = catalogue.to_offer(plan)
            self.plan = {k: str(v) for k, v in offer.as_dict().items() if k != "destinations"}

    @rx.event
    async def accept_price(self) -> Any:
        """The traveler accepts today's price after "the price changed": the checkout takes
        the plan's current amount (``checkout.reconfirm_price``), then the card form again."""
        if self.busy or not self.checkout_id:
            return None
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        try:
            async with db.session() as s:
                await checkout.reconfirm_price(s, checkout_id=self.checkout_id, user=user)
        except checkout.CheckoutError as exc:
            if exc.code == "expired":
                self.step = "expired"
                return None
            self.error = ERRORS.get(exc.code, exc.message)
            return None
        return BuyState.load

    def _after_payment(self, outcome: checkout_outcome.PayOutcome) -> Any:
        # A paid order's provisioning was started by the payment service: the order page
        # only watches it.
        if outcome.order_id and outcome.status == PayStatus.PAID:
            return rx.redirect(urls.order(outcome.order_id))
        if outcome.requires_action:
            self.step = "action"
            return None
        if outcome.status == PayStatus.PROCESSING:
            self.error = "Your payment is being processed. This page will update in a moment."
            return BuyState.poll_payment
        self.error = outcome.message or ERRORS.get(outcome.error or "", "The payment failed.")
        # A declined payment (a wrong verification code included) has no second step left:
        # back to the card form, where paying again starts a new payment for this checkout.
        self.step = "pay"
        return None

    @rx.event
    async def poll_payment(self) -> Any:
        """Another click of this checkout is charging: wait for its outcome (no new charge)."""
        import asyncio

        user = await self._require_user()
        if user is None or not self.checkout_id:
            return None
        for _ in range(20):
            try:
                async with db.session() as s:
                    outcome = await checkout_outcome.payment_outcome(
                        s, checkout_id=self.checkout_id, user=user
                    )
            except checkout.CheckoutError as exc:  # not this traveler's checkout
                self.error = ERRORS.get(exc.code, exc.message)
                return None
            if outcome.status != PayStatus.PROCESSING:
                return self._after_payment(outcome)
            await asyncio.sleep(0.5)
        return None


def _esim_target(esim: Esim) -> dict[str, str]:
    """How a top-up checkout names the eSIM the data is added to: its nickname (or
    "your eSIM", lower case: it is shown mid-sentence), the last 4 digits of its ICCID and
    its destination with flag. A nickname is kept exactly as the traveler wrote it."""
    return {
        "name": esim.nickname or "your eSIM",
        "iccid_tail": esim.iccid[-4:],
        "destination": countries.label(esim.destination or ""),
    }
