"""The checkout's refusals: :class:`CheckoutError` and its traveler-facing messages.

Kept apart from :mod:`travelsim.services.checkout` so the rules that refuse a checkout
(:mod:`travelsim.services.checkout_guard`) and the checkout itself can both raise it without
importing each other.
"""

from __future__ import annotations

from travelsim.i18n import N_

__all__ = ["CHECKOUT_MESSAGES", "CheckoutError"]

CHECKOUT_MESSAGES: dict[str, str] = {
    "unknown_plan": N_("This plan is not on sale."),
    "bad_destination": N_("This plan does not cover the chosen destination."),
    "sold_out": N_("Sorry, we are out of eSIMs right now. You have not been charged."),
    "not_found": N_("Checkout not found."),
    "confirm_device": N_(
        "Please confirm your destination and that your phone supports eSIM and is carrier-unlocked."
    ),
    "checkout_closed": N_("This checkout is no longer open. Please start again."),
    "expired": N_("This checkout expired. Please start again; you have not been charged."),
    "price_changed": N_("The price of this plan changed. Please review it and pay again."),
    "too_many_open": N_(
        "You already have checkouts waiting for payment. Pay or cancel one of them, or wait "
        "for it to expire, before starting another."
    ),
    "rate_limited": N_("Too many checkouts started in a short time. Please wait a few minutes."),
    "no_pending_payment": N_("There is no payment waiting for confirmation."),
    "payment_error": N_(
        "We could not reach the payment service. Nothing was charged; please try again in a moment."
    ),
    "payment_unconfirmed": N_(
        "We could not confirm your payment yet. Press Pay again: you will not be charged twice."
    ),
    "card_not_found": N_("That saved card is not on your account any more. Please choose a card."),
    "bad_card": N_("Please enter your card details again."),
    "accept_terms": N_(
        "Please accept the terms and ask for your eSIM to start now before paying. "
        "You have not been charged."
    ),
}


class CheckoutError(Exception):
    """A checkout rule refused the request. ``code`` (machine-readable) is one of
    ``unknown_plan``, ``bad_destination``, ``sold_out``, ``not_found`` (also for another
    user's checkout or eSIM: answer 404), ``confirm_device``, ``checkout_closed``,
    ``expired``, ``price_changed``, ``too_many_open``, ``rate_limited``,
    ``no_pending_payment``, ``payment_error`` (Stripe unreachable before anything was held),
    ``payment_unconfirmed`` (the outcome of a create is unknown: paying again resends the
    same idempotency key), ``card_not_found`` (a saved card that is not the traveler's),
    ``bad_card`` (a malformed card token), ``accept_terms`` (the terms or the
    immediate-start request not recorded: ``services.consent``), or a top-up refusal
    (``topup.check_topup_allowed``); ``message`` is traveler-facing: an English catalog
    text (the page shows it with ``_()``) or a text already translated into the active
    language."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or CHECKOUT_MESSAGES.get(code, code)
        super().__init__(code)
