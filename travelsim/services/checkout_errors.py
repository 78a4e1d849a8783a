"""The checkout's refusals: :class:`CheckoutError` and its traveler-facing messages.

Kept apart from :mod:`travelsim.services.checkout` so the rules that refuse a checkout
(:mod:`travelsim.services.checkout_guard`) and the checkout itself can both raise it without
importing each other.
"""

from __future__ import annotations

__all__ = ["CHECKOUT_MESSAGES", "CheckoutError"]

CHECKOUT_MESSAGES: dict[str, str] = {
    "unknown_plan": "This plan is not on sale.",
    "bad_destination": "This plan does not cover the chosen destination.",
    "sold_out": "Sorry, we are out of eSIMs right now. You have not been charged.",
    "not_found": "Checkout not found.",
    "confirm_device": (
        "Please confirm your destination and that your phone supports eSIM and is carrier-unlocked."
    ),
    "checkout_closed": "This checkout is no longer open. Please start again.",
    "expired": "This checkout expired. Please start again; you have not been charged.",
    "price_changed": "The price of this plan changed. Please review it and pay again.",
    "too_many_open": (
        "You already have checkouts waiting for payment. Pay or cancel one of them, or wait "
        "for it to expire, before starting another."
    ),
    "rate_limited": "Too many checkouts started in a short time. Please wait a few minutes.",
    "no_pending_payment": "There is no payment waiting for confirmation.",
    "payment_error": (
        "We could not reach the payment service. Nothing was charged; please try again in a moment."
    ),
    "payment_unconfirmed": (
        "We could not confirm your payment yet. Press Pay again: you will not be charged twice."
    ),
    "card_not_found": "That saved card is not on your account any more. Please choose a card.",
    "bad_card": "Please enter your card details again.",
}


class CheckoutError(Exception):
    """A checkout rule refused the request. ``code`` (machine-readable) is one of
    ``unknown_plan``, ``bad_destination``, ``sold_out``, ``not_found`` (also for another
    user's checkout or eSIM: answer 404), ``confirm_device``, ``checkout_closed``,
    ``expired``, ``price_changed``, ``too_many_open``, ``rate_limited``,
    ``no_pending_payment``, ``payment_error`` (Stripe unreachable before anything was held),
    ``payment_unconfirmed`` (the outcome of a create is unknown: paying again resends the
    same idempotency key), ``card_not_found`` (a saved card that is not the traveler's),
    ``bad_card`` (a malformed card token), or a top-up refusal
    (``topup.check_topup_allowed``); ``message`` is traveler-facing."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or CHECKOUT_MESSAGES.get(code, code)
        super().__init__(code)
