"""Refused account operations: :class:`AccountError`, its stable codes and their messages.

Every refusal of the auth package (and of provider sign-in and privacy, which share the
codes) is an :class:`AccountError` whose ``code`` is a key of :data:`ERROR_MESSAGES`. Codes
are safe in URLs: routes redirect with ``?error=<code>`` and pages show
``message_for(code)``.
"""

from __future__ import annotations

from travelsim import i18n
from travelsim.i18n import N_
from travelsim.services.auth.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

#: Window of the sign-up / reset / resend request limits
#: (:mod:`travelsim.services.auth.request_limits`), in minutes.
RATE_LIMIT_WINDOW_MINUTES = 60

ERROR_MESSAGES: dict[str, str] = {
    "email_invalid": N_("Please enter a valid email address."),
    "email_taken": N_("An account with this email already exists. Sign in instead."),
    "password_too_short": N_("Use at least {min} characters for your password."),
    "password_too_long": N_("Use at most {max} characters for your password."),
    "password_blank": N_("Your password cannot be only spaces."),
    "password_is_email": N_("Your password cannot be your email address."),
    "invalid_credentials": N_("Wrong email or password."),
    "unverified": N_("Please confirm your email address first: we can send the link again."),
    "token_invalid": N_("This link is not valid. Request a new one."),
    "token_used": N_("This link was already used. Your email is confirmed: please sign in."),
    "token_expired": N_("This link has expired. Request a new one."),
    "csrf": N_("This request came from another site and was refused."),
    # session security (throttling, totp, staff, reset)
    "throttled": N_("Too many failed attempts. Please wait 15 minutes and try again."),
    "rate_limited": N_("Too many attempts. Please try again in {minutes} minutes."),
    "totp_invalid": N_(
        "That code is not right, or was already used. Enter the current code from your "
        "authenticator app."
    ),
    "totp_already": N_("Two-step verification is already set up for this account."),
    "second_factor_required": N_("Please complete two-step verification first."),
    "forbidden": N_("You are not allowed to do this."),
    "signin_required": N_("Please sign in first."),
    "passwords_differ": N_("The two passwords are different."),
    "reset_token_invalid": N_("This password reset link is not valid. Request a new one."),
    "reset_token_used": N_("This password reset link was already used. Request a new one."),
    "reset_token_expired": N_("This password reset link has expired. Request a new one."),
    # sign-in with an identity provider (travelsim.services.oidc)
    "oidc_disabled": N_("Sign-in with an identity provider is not available."),
    "oidc_denied": N_("Sign-in was cancelled at your identity provider."),
    "oidc_failed": N_(
        "Sign-in with your identity provider could not be completed. Please try again."
    ),
    "oidc_unavailable": N_("Your identity provider could not be reached. Please try again later."),
    "oidc_no_email": N_(
        "Your identity provider did not share an email address, so we cannot sign you in."
    ),
    "oidc_unverified": N_(
        "We cannot sign you in with this provider account: its email address is not verified,"
        " here or at the provider. Sign in with your password, or confirm your email address "
        "first."
    ),
    "oidc_staff": N_(
        "Staff accounts cannot sign in with an identity provider. Sign in with your password "
        "and your two-step verification code."
    ),
    # privacy (travelsim.services.privacy)
    "delete_confirm": N_(
        "To delete your account, type your email address exactly and tick the box."
    ),
    "delete_pending": N_(
        "An order of yours is still being prepared. Please try again once it is delivered."
    ),
    "delete_failed": N_(
        "We could not suspend your eSIMs right now, so nothing was deleted. Please try again "
        "in a few minutes."
    ),
}


#: The figures some messages name.
_FIELDS = {
    "min": PASSWORD_MIN_LENGTH,
    "max": PASSWORD_MAX_LENGTH,
    "minutes": RATE_LIMIT_WINDOW_MINUTES,
}
_UNKNOWN = N_("Something went wrong. Please try again.")


def message_for(code: str) -> str:
    """The user-facing sentence for an error ``code`` (a generic one for unknown codes), in the
    active language (``travelsim.i18n.current``)."""
    return i18n.gettext(ERROR_MESSAGES.get(code, _UNKNOWN)).format(**_FIELDS)


class AccountError(ValueError):
    """A refused account operation. ``code``: a key of :data:`ERROR_MESSAGES` (stable,
    safe in URLs); ``message``: a sentence to show the user (no secrets)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or message_for(code)
        super().__init__(f"{code}: {self.message}")
