"""What the buy page says while paying, in the traveler's words: the notices, the checkout
service's refusals (:data:`ERRORS`) and the Stripe.js / card errors (:data:`CARD_ERRORS`,
:func:`card_error`). Nothing was charged for any error here."""

from __future__ import annotations

from travelsim.models import Esim
from travelsim.services import countries

__all__ = [
    "ACTION_NOTICE",
    "CARD_ERRORS",
    "CHECKING_NOTICE",
    "ERRORS",
    "RESUME_ACTION_NOTICE",
    "STILL_CHECKING_NOTICE",
    "card_error",
    "esim_target",
]

ACTION_NOTICE = "Confirm the payment with your bank in the window that opened."
RESUME_ACTION_NOTICE = (
    "Your bank has not confirmed this payment yet. Press Pay to confirm it; you will not be "
    "charged twice."
)
CHECKING_NOTICE = (
    "We are checking your payment. This page updates by itself; you will not be charged twice."
)
STILL_CHECKING_NOTICE = (
    "We are still checking your payment with your bank. You will not be charged twice: your "
    "order appears under My eSIMs as soon as the payment is confirmed."
)

ERRORS = {
    "unknown_plan": "This plan is not on sale any more. Please choose another one.",
    "sold_out": "Sorry, we are out of eSIMs right now. You have not been charged.",
    "confirm_device": "Please confirm your phone supports eSIM and is carrier-unlocked.",
    "not_found": "We could not find that checkout.",
    "expired": "This checkout expired. Please start again; you have not been charged.",
    "bad_destination": "Please choose a destination this plan covers.",
    "card_declined": "Your card was declined. You have not been charged; try another card.",
    "declined": "The payment did not go through. You have not been charged; try another card.",
    "bad_card": "Please enter your card details again.",
    "card_not_found": "That saved card is no longer available. Please choose another card.",
    "payment_error": (
        "We could not reach our card processor. Nothing was charged; please try again."
    ),
    "payment_unconfirmed": (
        "We could not reach our card processor to finish the payment. Press Pay to try "
        "again: you will not be charged twice."
    ),
}

#: Stripe.js error codes (https://docs.stripe.com/error-codes, the card element's validation
#: codes, and the wrapper's own ``not_ready`` / ``unavailable`` / ``incomplete`` /
#: ``network``) in the traveler's words. Nothing was charged for any of them.
CARD_ERRORS = {
    "incomplete": "Please check your card number, expiry date and security code.",
    "incomplete_number": "Your card number is incomplete.",
    "invalid_number": "Your card number is not valid. Please check it.",
    "incorrect_number": "Your card number is not valid. Please check it.",
    "incomplete_expiry": "Your card's expiry date is incomplete.",
    "invalid_expiry_month": "Your card's expiry month is not valid.",
    "invalid_expiry_year": "Your card's expiry year is not valid.",
    "invalid_expiry_month_past": "Your card's expiry date is in the past.",
    "invalid_expiry_year_past": "Your card's expiry date is in the past.",
    "expired_card": "Your card has expired. Please use another card.",
    "incomplete_cvc": "Your card's security code is incomplete.",
    "invalid_cvc": "Your card's security code is not valid.",
    "incorrect_cvc": "Your card's security code is not valid.",
    "card_declined": ERRORS["card_declined"],
    "processing_error": "Your card could not be processed. Nothing was charged; try again.",
    "payment_intent_authentication_failure": (
        "Your bank could not confirm the payment (3-D Secure). Nothing was charged; try again "
        "or use another card."
    ),
    "authentication_failed": (
        "Your bank could not confirm the payment (3-D Secure). Nothing was charged; try again "
        "or use another card."
    ),
    "authentication_incomplete": (
        "The confirmation with your bank did not finish. Nothing was charged; press Pay to "
        "try again."
    ),
    "not_ready": "The card form is still loading. Please wait a moment and press Pay again.",
    "unavailable": (
        "The card form could not be loaded. Reload the page to try again; nothing was charged."
    ),
    "network": "We could not reach our card processor. Nothing was charged; please try again.",
}


def card_error(code: str) -> str:
    """The traveler's words for a Stripe.js / card error ``code`` (a generic sentence for
    codes we do not know; never Stripe's raw text)."""
    return CARD_ERRORS.get(code, ERRORS.get(code, CARD_ERRORS["incomplete"]))


def esim_target(esim: Esim) -> dict[str, str]:
    """How a top-up checkout names the eSIM the data is added to: its nickname (or
    "your eSIM", lower case: it is shown mid-sentence), the last 4 digits of its ICCID and
    its destination with flag. A nickname is kept exactly as the traveler wrote it."""
    return {
        "name": esim.nickname or "your eSIM",
        "iccid_tail": esim.iccid[-4:],
        "destination": countries.label(esim.destination or ""),
    }
