"""The account emails: email verification, "you already have an account", password reset,
and the notes that answer a request about an address that has nothing to act on.

Forgot-password and resend-verification queue exactly one email whatever the address is
(docs/architecture.md#security-accounts-and-throttling), so the answer costs the same work
for an existing and an unknown address: :func:`send_no_account` and
:func:`send_already_verified` are the emails of the "nothing to do" cases.

Each function queues one row in the caller's session (:func:`travelsim.services.email.enqueue`,
flushed, **not committed**); links use the portal's public origin ``base_url`` and open the
pages in the email's language. Each email is written in the recipient's language
(``email.recipient_locale``): the account's, else the language active in the caller (the
page the request came from, set by the route), else English (docs/i18n.md#emails).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import i18n, urls
from travelsim.i18n import N_, _, ngettext
from travelsim.models import User
from travelsim.services import email as email_service

__all__ = [
    "VerifyWording",
    "send_account_exists",
    "send_already_verified",
    "send_no_account",
    "send_password_reset",
    "send_verification",
]

#: Which verification email: a first sign-up's, a sign-up competing with another one still
#: pending, or a resent link (no password of its own).
VerifyWording = Literal["signup", "competing", "resend"]

#: Per :data:`VerifyWording`: opening line, what the link does, the HTML button, closing line.
_WORDING: dict[str, tuple[str, str, str, str]] = {
    "signup": (
        N_("Welcome to TravelSIM!"),
        N_("Confirm your email address to finish creating your account:"),
        N_("Confirm my email address"),
        N_("If you did not sign up, ignore this email."),
    ),
    "competing": (
        N_(
            "Someone asked to create a TravelSIM account with this email address, while an "
            "earlier request for it is still waiting."
        ),
        N_(
            "If it was you, confirm your email address here (unless you open the link in the "
            "browser you signed up with, you will then choose your password):"
        ),
        N_("Confirm my email address"),
        N_(
            "If it was not you, do nothing: no password is set until you choose one, and "
            "nobody can sign in with this address until then."
        ),
    ),
    "resend": (
        N_("Here is a new link to confirm your TravelSIM email address."),
        N_("Confirm your email address and choose your password here:"),
        N_("Confirm and choose my password"),
        N_("If you did not ask for it, do nothing: no password is set until you choose one."),
    ),
}

#: Per "no account" kind: what was asked for, as a whole sentence.
_NO_ACCOUNT: dict[str, str] = {
    "reset_no_account": N_(
        "Someone (probably you) asked for a password reset for this email address, but no "
        "TravelSIM account uses it."
    ),
    "verify_no_account": N_(
        "Someone (probably you) asked for a new confirmation link for this email address, "
        "but no TravelSIM account uses it."
    ),
}


@dataclass(frozen=True)
class _Link:
    """A paragraph leading to a link: ``lead`` then the URL in the text part, ``lead`` then
    a link reading ``button`` in the HTML part."""

    lead: str
    url: str
    button: str


_Paragraph = str | _Link


def _bodies(paragraphs: list[_Paragraph]) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``paragraphs`` (already translated)."""
    text: list[str] = []
    body: list[str] = []
    for p in paragraphs:
        if isinstance(p, _Link):
            text.append(f"{p.lead}\n\n{p.url}")
            href = html.escape(p.url, quote=True)
            body.append(f'<p>{html.escape(p.lead)}</p><p><a href="{href}">')
            body[-1] += f"{html.escape(p.button)}</a></p>"
        else:
            text.append(p)
            body.append(f"<p>{html.escape(p)}</p>")
    return "\n\n".join(text) + "\n", "".join(body)


async def _queue(
    session: AsyncSession,
    *,
    to: str,
    lang: str,
    subject: str,
    paragraphs: list[_Paragraph],
    kind: str,
    user_id: int | None = None,
) -> None:
    text, body = _bodies(paragraphs)
    await email_service.enqueue(
        session,
        to=to,
        subject=subject,
        text=text,
        html=body,
        kind=kind,
        user_id=user_id,
        locale=lang,
    )


async def send_verification(
    session: AsyncSession, user: User, link: str, *, wording: VerifyWording, hours: int
) -> None:
    """Email ``user`` the verification ``link`` (absolute, valid ``hours``), worded for
    ``wording`` (kind ``verify``)."""
    with i18n.using(email_service.recipient_locale(user, i18n.current())) as lang:
        intro, ask, button, after = (_(m) for m in _WORDING[wording])
        expiry = ngettext(
            "The link works once and expires in {n} hour.",
            "The link works once and expires in {n} hours.",
            hours,
        ).format(n=hours)
        await _queue(
            session,
            to=user.email,
            lang=lang,
            subject=_("Confirm your TravelSIM email address"),
            paragraphs=[intro, _Link(ask, link, button), f"{expiry} {after}"],
            kind="verify",
            user_id=user.id,
        )


async def send_account_exists(session: AsyncSession, user: User, base_url: str) -> None:
    """Tell the owner of a verified account that someone tried to create an account with its
    address (kind ``account_exists``), with a link to sign in."""
    await _signin_notice(
        session,
        user,
        base_url,
        kind="account_exists",
        subject=N_("You already have a TravelSIM account"),
        what=N_(
            "Someone (probably you) tried to create a TravelSIM account with this email "
            "address, but you already have one."
        ),
    )


async def send_password_reset(
    session: AsyncSession, user: User, path: str, base_url: str, *, minutes: int
) -> None:
    """Email ``user`` a link to the password reset page ``path`` (``/password/reset?token=…``,
    on ``base_url``, in the email's language; valid ``minutes``; kind ``password_reset``)."""
    with i18n.using(email_service.recipient_locale(user, i18n.current())) as lang:
        link = urls.absolute(i18n.localized(path, lang), base_url)
        expiry = ngettext(
            "The link works once and expires in {n} minute.",
            "The link works once and expires in {n} minutes.",
            minutes,
        ).format(n=minutes)
        signs_out = _("Setting a new password signs you out everywhere else.")
        await _queue(
            session,
            to=user.email,
            lang=lang,
            subject=_("Reset your TravelSIM password"),
            paragraphs=[
                _("Someone (probably you) asked to reset the password of your TravelSIM account."),
                _Link(_("Choose a new password here:"), link, _("Choose a new password")),
                f"{expiry} {signs_out}",
                _("If it was not you, ignore this email: your password has not changed."),
            ],
            kind="password_reset",
            user_id=user.id,
        )


async def send_no_account(
    session: AsyncSession,
    address: str,
    base_url: str,
    *,
    kind: Literal["reset_no_account", "verify_no_account"],
) -> None:
    """Tell ``address`` (normalised) that someone asked for a password reset
    (``reset_no_account``) or a new confirmation link (``verify_no_account``) but no
    TravelSIM account uses it; ``kind`` is also the outbox label. Written in the language
    active in the caller (there is no account to read one from)."""
    with i18n.using(email_service.recipient_locale(None, i18n.current())) as lang:
        signup = urls.absolute(i18n.localized("/signup", lang), base_url)
        await _queue(
            session,
            to=address,
            lang=lang,
            subject=_("About your TravelSIM request"),
            paragraphs=[
                _(_NO_ACCOUNT[kind]),
                _Link(_("If you meant to create one:"), signup, _("Create an account")),
                _("If it was not you, you can ignore this email."),
            ],
            kind=kind,
        )


async def send_already_verified(session: AsyncSession, user: User, base_url: str) -> None:
    """Tell the owner of ``user``'s address that a new confirmation link was asked for
    although the address is already confirmed (kind ``already_verified``)."""
    await _signin_notice(
        session,
        user,
        base_url,
        kind="already_verified",
        subject=N_("Your TravelSIM email address is already confirmed"),
        what=N_(
            "Someone (probably you) asked for a new confirmation link, but this email "
            "address is already confirmed."
        ),
    )


async def _signin_notice(
    session: AsyncSession, user: User, base_url: str, *, kind: str, subject: str, what: str
) -> None:
    """Queue a notice to ``user`` (``subject`` and ``what`` happened: English catalog texts)
    with a link to sign in and the "if it was not you" line, in their language."""
    with i18n.using(email_service.recipient_locale(user, i18n.current())) as lang:
        signin = urls.absolute(i18n.localized(urls.SIGN_IN, lang), base_url)
        await _queue(
            session,
            to=user.email,
            lang=lang,
            subject=_(subject),
            paragraphs=[
                _(what),
                _Link(_("Sign in here:"), signin, _("Sign in")),
                _("If it was not you, you can ignore this email: nothing has changed."),
            ],
            kind=kind,
            user_id=user.id,
        )
