"""What the buy page says while paying, in the traveler's words: the notices, the checkout
service's refusals (:data:`ERRORS`) and the Stripe.js / card errors (:data:`CARD_ERRORS`,
:func:`card_error`). Nothing was charged for any error here."""

from __future__ import annotations

from travelsim.i18n import N_, _
from travelsim.models import Esim
from travelsim.services import countries
from travelsim.services.payments import FAILURE_MESSAGES

__all__ = [
    "ACTION_NOTICE",
    "CARD_ERRORS",
    "CHECKING_NOTICE",
    "DECLINE_MESSAGES",
    "ERRORS",
    "RESUME_ACTION_NOTICE",
    "STILL_CHECKING_NOTICE",
    "card_error",
    "decline_message",
    "error_text",
    "esim_target",
    "failure_text",
]

ACTION_NOTICE = N_("Confirm the payment with your bank in the window that opened.")
RESUME_ACTION_NOTICE = N_(
    "Your bank has not confirmed this payment yet. Press Pay to confirm it; you will not be "
    "charged twice."
)
CHECKING_NOTICE = N_(
    "We are checking your payment. This page updates by itself; you will not be charged twice."
)
STILL_CHECKING_NOTICE = N_(
    "We are still checking your payment with your bank. You will not be charged twice: your "
    "order appears under My eSIMs as soon as the payment is confirmed."
)

ERRORS = {
    "unknown_plan": N_("This plan is not on sale any more. Please choose another one."),
    "sold_out": N_("Sorry, we are out of eSIMs right now. You have not been charged."),
    "confirm_device": N_("Please confirm your phone supports eSIM and is carrier-unlocked."),
    "not_found": N_("We could not find that checkout."),
    "expired": N_("This checkout expired. Please start again; you have not been charged."),
    "bad_destination": N_("Please choose a destination this plan covers."),
    "card_declined": N_("Your card was declined. You have not been charged; try another card."),
    "declined": N_("The payment did not go through. You have not been charged; try another card."),
    "bad_card": N_("Please enter your card details again."),
    "card_not_found": N_("That saved card is no longer available. Please choose another card."),
    "accept_terms": N_(
        "Please accept the terms and ask for your eSIM to start now before paying. "
        "You have not been charged."
    ),
    "payment_error": N_(
        "We could not reach our card processor. Nothing was charged; please try again."
    ),
    "payment_unconfirmed": N_(
        "We could not reach our card processor to finish the payment. Press Pay to try "
        "again: you will not be charged twice."
    ),
}

#: Stripe.js error codes (https://docs.stripe.com/error-codes, the card element's validation
#: codes, and the wrapper's own ``not_ready`` / ``unavailable`` / ``incomplete`` /
#: ``network``) in the traveler's words. Nothing was charged for any of them.
CARD_ERRORS = {
    "incomplete": N_("Please check your card number, expiry date and security code."),
    "incomplete_number": N_("Your card number is incomplete."),
    "invalid_number": N_("Your card number is not valid. Please check it."),
    "incorrect_number": N_("Your card number is not valid. Please check it."),
    "incomplete_expiry": N_("Your card's expiry date is incomplete."),
    "invalid_expiry_month": N_("Your card's expiry month is not valid."),
    "invalid_expiry_year": N_("Your card's expiry year is not valid."),
    "invalid_expiry_month_past": N_("Your card's expiry date is in the past."),
    "invalid_expiry_year_past": N_("Your card's expiry date is in the past."),
    "expired_card": N_("Your card has expired. Please use another card."),
    "incomplete_cvc": N_("Your card's security code is incomplete."),
    "invalid_cvc": N_("Your card's security code is not valid."),
    "incorrect_cvc": N_("Your card's security code is not valid."),
    "card_declined": ERRORS["card_declined"],
    "processing_error": N_("Your card could not be processed. Nothing was charged; try again."),
    "payment_intent_authentication_failure": N_(
        "Your bank could not confirm the payment (3-D Secure). Nothing was charged; try again "
        "or use another card."
    ),
    "authentication_failed": N_(
        "Your bank could not confirm the payment (3-D Secure). Nothing was charged; try again "
        "or use another card."
    ),
    "authentication_incomplete": N_(
        "The confirmation with your bank did not finish. Nothing was charged; press Pay to "
        "try again."
    ),
    "not_ready": N_("The card form is still loading. Please wait a moment and press Pay again."),
    "unavailable": N_(
        "The card form could not be loaded. Reload the page to try again; nothing was charged."
    ),
    "network": N_("We could not reach our card processor. Nothing was charged; please try again."),
}


#: Stripe decline / error codes of a refused payment (https://docs.stripe.com/declines/codes,
#: https://docs.stripe.com/error-codes) in the traveler's words: ``payments.FAILURE_MESSAGES``
#: (English catalog texts), translated where shown (:func:`decline_message`).
DECLINE_MESSAGES = FAILURE_MESSAGES


def card_error(code: str) -> str:
    """The traveler's words, in the active language, for a Stripe.js / card error ``code``
    (a generic sentence for codes we do not know; never Stripe's raw text)."""
    return _(CARD_ERRORS.get(code, ERRORS.get(code, CARD_ERRORS["incomplete"])))


def decline_message(code: str | None) -> str:
    """The traveler's words, in the active language, for a refused payment's Stripe decline
    or error ``code`` (:data:`DECLINE_MESSAGES`; a generic sentence for unknown codes)."""
    return _(DECLINE_MESSAGES.get(code or "", ERRORS["declined"]))


def error_text(code: str, default: str | None = None) -> str:
    """The traveler's words, in the active language, for a checkout refusal ``code``
    (:data:`ERRORS`); else ``default`` (an English catalog text such as
    ``CheckoutError.message``, translated here), else the "expired" sentence."""
    return _(ERRORS.get(code) or default or ERRORS["expired"])


def failure_text(code: str | None, message: str = "") -> str:
    """The traveler's words, in the active language, for a refused payment: its Stripe
    decline ``code`` (:func:`decline_message`), else a checkout code (:func:`error_text`,
    with ``message``, an English catalog text, as fallback), else the generic decline."""
    if code in DECLINE_MESSAGES:
        return decline_message(code)
    return error_text(code or "declined", message or None)


def esim_target(esim: Esim) -> dict[str, str]:
    """How a top-up checkout names the eSIM the data is added to, in the active language:
    ``name`` (its nickname, or "your eSIM", lower case: it is shown mid-sentence),
    ``iccid_tail`` (the last 4 digits of its ICCID), ``destination`` (flag and name) and
    ``sentence`` (the whole line shown above the card form). A nickname is kept exactly as
    the traveler wrote it."""
    name = esim.nickname or _("your eSIM")
    tail = esim.iccid[-4:]
    destination = countries.label(esim.destination or "")
    if destination:
        sentence = _(
            "The data is added to {name} (ICCID ending {tail}) for {destination}. Same eSIM, "
            "no new QR code."
        ).format(name=name, tail=tail, destination=destination)
    else:
        sentence = _(
            "The data is added to {name} (ICCID ending {tail}). Same eSIM, no new QR code."
        ).format(name=name, tail=tail)
    return {"name": name, "iccid_tail": tail, "destination": destination, "sentence": sentence}
