"""Checkout: confirm destination and device, reserve an eSIM, pay once, then watch the order.

The checkout id travels in the URL (``/buy/<plan>?checkout=<id>``) so a reload resumes
the same checkout; it is also the payment's idempotency key, so double clicks, reloads and
retries never charge twice. What the page shows for the checkout in its URL is the checkout
service's (``checkout.checkout_page``); a paid order's provisioning is started by the payment
service (``checkout_payment``), the order page only watches it. Top-ups use the same page
(``/topup/<esim>`` opens a top-up checkout and redirects here).

Card data never reaches the portal (``travelsim.components.card_element``, the flow of
https://docs.stripe.com/payments/accept-a-payment-synchronously with tokens and manual capture):
:meth:`BuyState.pay` sets ``busy`` and has Stripe.js make a token in the browser (Reflex awaits
the Promise before the callback), or pays at once with a saved card; :meth:`BuyState.
pay_with_token` gets only the token id (``checkout_payment.TOKEN_RE``) and pays; a
``requires_action`` answer runs ``confirmCardPayment(secret)`` (the client secret passes only
through that call, never a state var), then :meth:`BuyState.card_confirmed` →
``checkout_payment.confirm_payment``. An outcome not known yet shows "We are checking your
payment" and :meth:`BuyState.poll_payment` reads it, never "failed".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, urls
from travelsim.components.card_element import confirm_card_payment_js, create_token_js
from travelsim.i18n import _, localized
from travelsim.models import CheckoutStatus, Plan, User
from travelsim.services import (
    checkout,
    checkout_outcome,
    checkout_payment,
    countries,
    payments,
    platform,
    saved_cards,
)
from travelsim.services.checkout_outcome import PayStatus
from travelsim.services.checkout_payment import TOKEN_RE, NewCard, SavedCardChoice
from travelsim.settings import get_settings
from travelsim.state.buy_messages import (
    ACTION_NOTICE,
    CHECKING_NOTICE,
    RESUME_ACTION_NOTICE,
    STILL_CHECKING_NOTICE,
    card_error,
    error_text,
    esim_target,
    failure_text,
)
from travelsim.state.buy_summary import charged_summary, destination_choices, plan_summary
from travelsim.state.currency import traveler_currency
from travelsim.state.session import SessionState, _uid
from travelsim.stripe_config import stripe_config

#: ``card_choice`` of "a new card" (else the id, as text, of a saved card).
NEW_CARD = "new"
#: How often and how long the page reads a payment whose outcome is not known yet.
POLL_SECONDS = 1.0
POLL_FOR_SECONDS = 120.0


class BuyState(SessionState):
    plan_id: str = ""
    plan: dict[str, str] = {}
    destinations: list[dict[str, str]] = []
    destination: str = ""
    device_esim: bool = False
    device_unlocked: bool = False
    checkout_id: str = ""
    #: loading | confirm | pay | not_found | expired (the checkout in the URL can no
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
    #: Information while paying (the bank's window is open; the payment is being checked).
    notice: str = ""
    #: True from Pay until the payment has an outcome (the Pay button is disabled).
    busy: bool = False
    #: Stripe.js for the card box: public values read at page load (real or local Stripe).
    stripe_publishable_key: str = ""
    stripe_js_url: str = ""
    #: The traveler's saved cards: ``id`` (text), ``label`` ("•••• 4242 (Visa)").
    saved_cards: list[dict[str, str]] = []
    #: :data:`NEW_CARD` or the id of one of ``saved_cards``.
    card_choice: str = NEW_CARD
    #: Keep a new card for later top-ups (on the traveler's Stripe Customer).
    keep_card: bool = False
    #: Backend only: the Stripe.js code of the last 3-D Secure attempt (for the words).
    _browser_code: str = ""
    #: Backend only: :meth:`poll_payment` is running for this tab.
    _polling: bool = False
    #: Backend only: the open checkout's currency (it keeps it: ``state/buy_summary.py``).
    _checkout_currency: str = ""

    @rx.event
    async def load(self) -> Any:
        self.error = ""
        self.notice = ""
        self.busy = False
        user = await self._require_user()
        if user is None:
            return self._signin_redirect()
        config = stripe_config()
        self.stripe_publishable_key = config.publishable_key
        self.stripe_js_url = config.js_url
        self.plan_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        params = self.router.url.query_parameters
        async with db.session() as s:
            plan = await s.get(Plan, self.plan_id)
            if plan is None or not plan.sellable:
                self.step = "not_found"
                return None
            currency = await traveler_currency(self, user)
            self.plan = await plan_summary(s, plan, currency)
            self.destinations = destination_choices(plan)
            wanted = params.get("to", "").upper()
            codes = {d["code"] for d in self.destinations}
            self.destination = (
                wanted
                if wanted in codes
                else (self.destinations[0]["code"] if len(self.destinations) == 1 else "")
            )
            checkout_id = params.get("checkout", "")
            self.checkout_id = self._checkout_currency = ""
            self.price_message = ""
            self.restart_url = localized(urls.buy(self.plan_id, to=self.destination or None))
            self.is_topup = False
            self.target = {}
            self.step = "confirm"
            if checkout_id:
                shown = await checkout.checkout_page(
                    s, checkout_id=checkout_id, user_id=_uid(user), plan_id=self.plan_id
                )
                if not shown.found:
                    self.error = error_text("not_found")
                    return None
                if shown.order_id is not None:
                    return rx.redirect(localized(urls.order(shown.order_id)))
                if shown.target is not None:
                    self.is_topup = True
                    self.target = esim_target(shown.target)
                self.restart_url = localized(
                    urls.topup(shown.target.id or "")
                    if shown.target is not None
                    else urls.buy(self.plan_id, to=self.destination or None)
                )
                if shown.open:
                    self.checkout_id = shown.checkout_id
                    self.destination = shown.destination or self.destination
                    self._checkout_currency = shown.currency
                    self.plan = charged_summary(
                        self.plan, shown.amount_minor, shown.currency, currency
                    )
                    # A 3-D Secure step left open (reload, closed window): Pay reopens it.
                    self.step = "pay"
                    if shown.step == "action":
                        self.notice = _(RESUME_ACTION_NOTICE)
                    await self._load_saved_cards(s, _uid(user))
                elif shown.closed_status == CheckoutStatus.EXPIRED:
                    self.step = "expired"  # not an error: one button starts again
                else:
                    self.error = error_text(shown.closed_status or "")
        self.destination_label = countries.label(self.destination)
        return None

    async def _load_saved_cards(self, s: AsyncSession, user_id: int) -> None:
        """``saved_cards`` and the default choice (the newest saved card, else a new one)."""
        rows = await saved_cards.list_cards(s, user_id)
        self.saved_cards = [
            {"id": str(r.id), "label": f"•••• {r.last4} ({r.brand or 'Card'})"} for r in rows
        ]
        self.card_choice = self.saved_cards[-1]["id"] if self.saved_cards else NEW_CARD
        self.keep_card = False

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
            self.error = error_text("confirm_device")
            return
        if self.destination not in {d["code"] for d in self.destinations}:
            self.error = error_text("bad_destination")
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
                    currency=await traveler_currency(self, user),
                )
        except checkout.CheckoutError as exc:
            self.error = error_text(exc.code, exc.message)
            self.busy = False
            return
        # ``busy`` stays True until the checkout page loads (``load`` resets it), so the
        # button cannot be clicked again on the way there.
        yield rx.redirect(localized(urls.buy(self.plan_id, to=self.destination, checkout=co.id)))

    @rx.event
    def set_card_choice(self, value: str) -> None:
        """``"new"`` or the id (as text) of one of the traveler's saved cards."""
        if value == NEW_CARD or value in {c["id"] for c in self.saved_cards}:
            self.card_choice = value

    @rx.event
    def set_keep_card(self, value: bool) -> None:
        self.keep_card = value

    @rx.event
    async def pay(self) -> AsyncIterator[Any]:
        """Pay this checkout: a saved card is charged at once; a new card is first turned
        into a Stripe token in the browser (``travelsimCard.createToken``, the card data
        stays in Stripe.js), whose id alone comes back in :meth:`pay_with_token`.

        ``busy`` is set (and sent) first and stays set until the payment has an outcome, so
        a double click neither tokenises twice nor pays twice (and the checkout id is the
        payment's idempotency key anyway)."""
        if self.busy or not self.checkout_id or self.step != "pay":
            return
        user = await self._require_user()
        if user is None:
            yield self._signin_redirect()
            return
        self.busy = True
        self.error = ""
        self.notice = ""
        if self.card_choice != NEW_CARD:
            yield None
            saved = SavedCardChoice(saved_card_id=int(self.card_choice))
            async for step in self._payment_step(user, saved):
                yield step
            return
        yield rx.call_script(
            create_token_js,
            # (mypy types a decorated handler as rx.event's namespace: not callable)
            callback=lambda result: BuyState.pay_with_token(  # type: ignore[operator]
                result.to(dict)["token"], result.to(dict)["error"].to(dict)["code"]
            ),
        )

    @rx.event
    async def pay_with_token(self, token: str, code: str) -> AsyncIterator[Any]:
        """The browser's answer to ``createToken``: a token id (``tok_…``, checked against
        :data:`TOKEN_RE`) or a Stripe.js error ``code`` (nothing was charged; the card box
        stays filled in for a retry). Only acts on a payment started by :meth:`pay`."""
        if not self.busy or not self.checkout_id or self.step != "pay":
            return
        if not TOKEN_RE.fullmatch(token):
            self.busy = False
            self.error = card_error(code or "incomplete")
            return
        user = await self._require_user()
        if user is None:
            self.busy = False
            yield self._signin_redirect()
            return
        async for step in self._payment_step(user, NewCard(token=token)):
            yield step

    @rx.event
    async def card_confirmed(self, status: str, code: str) -> AsyncIterator[Any]:
        """Stripe.js finished 3-D Secure (``confirmCardPayment``): the server reads the
        PaymentIntent again (``checkout_payment.confirm_payment``); the browser's ``status``
        / ``code`` only choose the words when that read cannot settle it."""
        if not self.busy or not self.checkout_id or self.step != "pay":
            return
        user = await self._require_user()
        if user is None:
            self.busy = False
            yield self._signin_redirect()
            return
        self._browser_code = (code or "")[:64]
        async for step in self._run_payment(
            user,
            lambda s: checkout_payment.confirm_payment(
                s, payments.get_provider(), checkout_id=self.checkout_id, user=user
            ),
            confirming=True,
        ):
            yield step

    async def _payment_step(
        self, user: User, card: NewCard | SavedCardChoice
    ) -> AsyncIterator[Any]:
        """Charge ``card`` for this checkout (``checkout_payment.pay``)."""
        keep = self.keep_card and isinstance(card, NewCard)
        async for step in self._run_payment(
            user,
            lambda s: checkout_payment.pay(
                s,
                payments.get_provider(),
                checkout_id=self.checkout_id,
                user=user,
                card=card,
                device_confirmed=True,
                keep_card=keep,
            ),
            confirming=False,
        ):
            yield step

    async def _run_payment(
        self,
        user: User,
        call: Callable[[AsyncSession], Awaitable[checkout_outcome.PayOutcome]],
        *,
        confirming: bool,
    ) -> AsyncIterator[Any]:
        """Run one payment call (``busy`` is already set), show its errors, then its
        outcome; ``busy`` stays set while the browser runs 3-D Secure or the page polls."""
        try:
            async with db.session() as s:
                outcome = await call(s)
        except checkout.CheckoutError as exc:
            if confirming and exc.code in ("payment_error", "payment_unconfirmed"):
                # After the traveler confirmed: the outcome is not known yet, never "failed".
                yield self._start_checking()
                return
            self.busy = False
            if exc.code == "expired":
                self.step = "expired"
                return
            if exc.code == "price_changed":
                self.step, self.price_message = "price_changed", exc.message
                await self._refresh_plan()  # the summary and the button show today's price
                return
            self.error = error_text(exc.code, exc.message)
            return
        except payments.PaymentProviderError:
            if confirming:
                yield self._start_checking()
                return
            self.busy = False
            self.error = error_text("payment_error")
            return
        yield self._after_payment(outcome, confirming=confirming)

    async def _refresh_plan(self) -> None:
        """Re-read the plan summary (``plan``: price in the checkout's currency, title...)."""
        async with db.session() as s:
            plan = await s.get(Plan, self.plan_id)
            if plan is not None and plan.sellable:
                self.plan = await plan_summary(s, plan, self._checkout_currency or None)

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
            self.error = error_text(exc.code, exc.message)
            return None
        return BuyState.load

    def _after_payment(self, outcome: checkout_outcome.PayOutcome, *, confirming: bool) -> Any:
        """Show ``outcome``: the order page once paid, 3-D Secure in the browser, "we are
        checking" while it is not settled, else the reason (the card box stays for a retry)."""
        # A paid order's provisioning was started by the payment service: the order page
        # only watches it.
        if outcome.order_id and outcome.status == PayStatus.PAID:
            self.notice = ""
            return rx.redirect(localized(urls.order(outcome.order_id)))
        if outcome.status == PayStatus.REQUIRES_ACTION and outcome.client_secret and not confirming:
            # The secret goes to Stripe.js inside this call only: never a state var.
            self.notice = _(ACTION_NOTICE)
            return rx.call_script(
                confirm_card_payment_js(outcome.client_secret),
                callback=lambda result: BuyState.card_confirmed(  # type: ignore[operator]
                    result.to(dict)["status"], result.to(dict)["error"].to(dict)["code"]
                ),
            )
        if outcome.status == PayStatus.REQUIRES_ACTION:
            # Confirmed in the browser, yet Stripe still waits for the bank (the window was
            # closed, or Stripe.js could not finish): Pay opens the bank's check again.
            self.busy = False
            self.notice = ""
            self.error = card_error(self._browser_code or "authentication_incomplete")
            return None
        if outcome.status == PayStatus.PROCESSING:
            return self._start_checking()
        self.busy = False
        self.notice = ""
        self.error = failure_text(outcome.error, outcome.message)
        return None

    def _start_checking(self) -> Any:
        """The payment's outcome is not known yet (Stripe slow or unreachable after the
        traveler confirmed, or the webhook pending): say so, keep Pay disabled, poll."""
        self.busy = True
        self.error = ""
        self.notice = _(CHECKING_NOTICE)
        return BuyState.poll_payment

    @rx.event(background=True)
    async def poll_payment(self) -> AsyncIterator[Any]:
        """Wait for the outcome of this checkout's payment (``payment_outcome``; no new
        charge), every :data:`POLL_SECONDS` for at most :data:`POLL_FOR_SECONDS`: the webhook
        or the status-read job settles it meanwhile. Still unknown then: the page says so
        (never "failed") and Pay stays off until a reload."""
        async with self:
            if self._polling or not self.checkout_id:
                return
            self._polling = True
            checkout_id = self.checkout_id
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + POLL_FOR_SECONDS
            while loop.time() < deadline:
                await asyncio.sleep(POLL_SECONDS)
                user = await self._current_user()
                if user is None:
                    return
                try:
                    async with db.session() as s:
                        outcome = await checkout_outcome.payment_outcome(
                            s, checkout_id=checkout_id, user=user
                        )
                except checkout.CheckoutError as exc:  # not this traveler's, or gone
                    async with self:
                        self.busy = False
                        self.notice = ""
                        self.error = error_text(exc.code, exc.message)
                    return
                if outcome.status == PayStatus.PROCESSING:
                    continue
                async with self:
                    if self.checkout_id != checkout_id:
                        return
                    self.notice = ""
                    # Not handed to 3-D Secure again from here: Pay does that.
                    follow_up = self._after_payment(outcome, confirming=True)
                if follow_up is not None:
                    yield follow_up
                return
            async with self:
                if self.checkout_id == checkout_id:
                    self.notice = _(STILL_CHECKING_NOTICE)
        finally:
            async with self:
                self._polling = False
