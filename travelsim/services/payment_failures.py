"""Traveler-facing words for Stripe's card errors and declines (:data:`FAILURE_MESSAGES`,
:func:`failure_message`), re-exported by :mod:`travelsim.services.payments`."""

from __future__ import annotations

from travelsim.i18n import N_

__all__ = ["FAILURE_MESSAGES", "failure_message"]

#: Traveler-facing text per Stripe error / decline code (never contains card data): English
#: catalog texts (``N_``), translated where they are shown (``state.buy_messages``).
#: Codes: https://docs.stripe.com/error-codes and https://docs.stripe.com/declines/codes
FAILURE_MESSAGES: dict[str, str] = {
    "card_declined": N_("Your card was declined. Nothing was charged; please try another card."),
    "generic_decline": N_("Your card was declined. Nothing was charged; please try another card."),
    "insufficient_funds": N_("Your card has insufficient funds. Nothing was charged."),
    "lost_card": N_("Your card was declined. Nothing was charged; please try another card."),
    "stolen_card": N_("Your card was declined. Nothing was charged; please try another card."),
    "expired_card": N_("Your card has expired. Nothing was charged; please use another card."),
    "incorrect_cvc": N_("The security code (CVC) is not right. Nothing was charged."),
    "invalid_cvc": N_("The security code (CVC) is not valid. Nothing was charged."),
    "incorrect_number": N_("The card number is not right. Nothing was charged."),
    "invalid_number": N_("The card number is not valid. Nothing was charged."),
    "invalid_expiry_month": N_("The expiry month is not valid. Nothing was charged."),
    "invalid_expiry_year": N_("The expiry year is not valid. Nothing was charged."),
    "processing_error": N_(
        "Your bank could not process the card. Nothing was charged; please try again."
    ),
    "authentication_required": N_("Your bank needs you to confirm this payment. Please try again."),
    "payment_intent_authentication_failure": N_(
        "The card could not be verified (3-D Secure). Nothing was charged; please try again "
        "or use another card."
    ),
    "canceled": N_("The payment was cancelled. Nothing was charged."),
    "provider_error": N_(
        "We could not reach the payment service. Nothing was charged; please try again in a moment."
    ),
}


def failure_message(code: str | None) -> str:
    """Human text for a failure ``code`` (a generic sentence for unknown codes): an English
    catalog text, translated by the page that shows it."""
    return FAILURE_MESSAGES.get(
        code or "", N_("The payment did not go through. Nothing was charged.")
    )
