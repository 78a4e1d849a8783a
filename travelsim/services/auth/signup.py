"""Sign-up with email verification: create the account, email the link, confirm it.

Pending passwords (docs/architecture.md#security-accounts-and-throttling): each sign-up's
verification link carries the hash of the password *that* sign-up chose
(``email_token.password_hash``); a resent link carries none (a resend does not tell whose
password it would be). A sign-up for an address whose account is not verified yet emails a
new link; verifying voids every verification link, forgets every pending password and
revokes every earlier session, and sets at most one password:

- the browser holding the flow cookie (``flow_hash``) of one of the account's outstanding
  sign-ups gets *that* sign-up's password and may be signed in;
- any other browser gets the link's sign-up's password and is asked to sign in, unless the
  sign-ups *competed* (two sign-ups with different passwords whose links were valid at the
  same moment) or the link is a resent one: then no password is set and the browser is sent
  to choose one (a one-use reset token, authorised by the link it opened).

Account enumeration: :func:`signup` reports ``email_taken`` honestly (admin tools and tests
need it). The HTTP layer (``travelsim.routes.auth``) answers a duplicate sign-up with the
same "check your email" notice as a new one and calls :func:`notify_existing_signup`, which
emails the address owner instead (a fresh verification link if the account is not verified
yet, otherwise an "you already have an account" note). Links are built on the portal's
public origin (``base_url``), never on the request's ``Host``. Functions work inside the
caller's transaction and **do not commit** (a sign-up and its email are one transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Literal
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import urls
from travelsim.models import EmailToken, OutboxEmail, User, utcnow
from travelsim.services import email as email_service
from travelsim.services.auth import account_emails, email_tokens
from travelsim.services.auth.credentials import (
    NO_PASSWORD,
    check_password_policy,
    normalise_email,
    user_by_email,
)
from travelsim.services.auth.email_tokens import RESEND_COOLDOWN
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import hash_password_async
from travelsim.services.auth.reset import reset_ttl
from travelsim.services.auth.sessions import end_all_sessions
from travelsim.services.auth.tokens import token_hash

log = logging.getLogger(__name__)

#: Lifetime of an email verification link.
VERIFY_TOKEN_TTL = timedelta(hours=24)

#: Which verification email: a first sign-up's, a sign-up competing with another one still
#: pending, or a resent link (no password of its own).
LinkKind = account_emails.VerifyWording


async def signup(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    base_url: str,
    next_path: str = "/",
    flow_hash: str | None = None,
) -> User:
    """Create an unverified user and queue its verification email; returns the user
    (flushed, with an id). The caller commits.

    ``base_url``: the portal's public origin (``settings.public_url``, never the request's
    Host header), e.g. ``https://travelsim.example``; the email links to
    ``{base_url}/auth/verify?token=…``, valid :data:`VERIFY_TOKEN_TTL` (24 h), single use.
    ``next_path``: a relative path already checked by the caller
    (:func:`~travelsim.services.auth.signin.safe_next`), e.g. the checkout the traveler was
    on; other than ``/`` it rides in the link as ``&next=…`` so verifying lands there (the
    verify route checks it again). ``flow_hash``: SHA-256 hex of the sign-up browser's flow
    cookie (the only browser the link will sign in), or ``None``.

    Raises :class:`AccountError`: ``email_invalid``, a password policy code (see
    :func:`~travelsim.services.auth.credentials.check_password_policy`) or ``email_taken``.
    For an address whose account is not verified yet, ``email_taken`` is raised *after*
    a link carrying the new password was queued (the caller commits it: nothing earlier
    stays usable once the owner verifies); when another sign-up's link is still valid the
    email says plainly that someone asked for an account with this address and that doing
    nothing sets no password. On a concurrent duplicate the session is rolled back before
    ``email_taken`` is raised.
    """
    address = normalise_email(email)
    check_password_policy(password, address)
    # Hash before the duplicate check so both outcomes cost the same time.
    password_hash = await hash_password_async(password)
    existing = await user_by_email(session, address)
    if existing is not None:
        if existing.email_verified_at is None and existing.id is not None:
            competing = await _signup_pending(session, existing.id, utcnow())
            existing.password_hash = password_hash  # unusable until verified, see verify_signup
            session.add(existing)
            await _send_verification(
                session,
                existing,
                base_url,
                next_path,
                password_hash,
                flow_hash,
                kind="competing" if competing else "signup",
            )
            await session.flush()
            log.info("pending sign-up replaced user_id=%s", existing.id)
        raise AccountError("email_taken")
    # A sign-up on a French, German or Spanish page gives the account that language, so its
    # emails are written in it; English, the fallback, leaves the choice open
    # (docs/i18n.md#emails).
    user = User(
        email=address, password_hash=password_hash, locale=email_service.new_account_locale()
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise AccountError("email_taken") from exc
    await _send_verification(session, user, base_url, next_path, password_hash, flow_hash)
    log.info("account created user_id=%s", user.id)
    return user


async def _send_verification(
    session: AsyncSession,
    user: User,
    base_url: str,
    next_path: str = "/",
    password_hash: str | None = None,
    flow_hash: str | None = None,
    *,
    kind: LinkKind = "signup",
) -> None:
    assert user.id is not None
    raw = email_tokens.issue(
        session,
        user.id,
        "verify",
        VERIFY_TOKEN_TTL,
        password_hash=password_hash,
        flow_hash=flow_hash,
    )
    link = urls.absolute(urls.verify_email(raw), base_url)
    if next_path and next_path != "/":
        link += "&" + urlencode({"next": next_path})
    hours = int(VERIFY_TOKEN_TTL.total_seconds() // 3600)
    await account_emails.send_verification(session, user, link, wording=kind, hours=hours)


#: What opening a verification link did, see :class:`Verification`.
Outcome = Literal["this_browser", "elsewhere", "choose_password"]


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify_signup`.

    ``outcome``: ``this_browser`` (the password of the sign-up this browser made is the
    account's: the caller may sign this browser in), ``elsewhere`` (the link's sign-up's
    password is the account's: ask the browser to sign in) or ``choose_password`` (no
    sign-up's password was kept). ``reset_token``: for ``choose_password`` only, the raw
    one-use password-reset token (valid :func:`~travelsim.services.auth.reset.reset_ttl`)
    for the "choose your password" form at ``/password/reset?token=…``."""

    user: User
    outcome: Outcome
    reset_token: str | None = None


async def verify_signup(session: AsyncSession, token: str, flow: str | None = None) -> Verification:
    """Consume a verification ``token`` (the raw value from the link) and mark its user's
    email verified (UTC now); the caller commits.

    ``flow``: the raw value of this browser's sign-up flow cookie, if any. The sign-up this
    browser made is the link's own, or (when the mailbox holds several links, e.g. someone
    else signed up with the address after this browser did) another outstanding sign-up of
    the same account whose flow cookie this browser holds.

    On the first verification of the account the password becomes, in this order: the
    password of the sign-up this browser made (``this_browser``); else the link's sign-up's
    password, when no other sign-up competed with it (a sign-up with another password whose
    link was valid at some moment this link was) (``elsewhere``); else none: the account
    gets :data:`~travelsim.services.auth.credentials.NO_PASSWORD` and a reset token for its
    owner to choose one (``choose_password``; a resent link, which carries no password,
    always ends here). In every case every verification link is voided, every pending
    password forgotten and every session opened before revoked. An account verified
    already keeps its password (``this_browser`` or ``elsewhere`` by the flow cookie).

    Single use, enforced by a compare-and-set on ``used_at`` (safe against two clicks at
    once). Raises :class:`AccountError`: ``token_invalid`` (unknown, malformed or not a
    verification token), ``token_used``, ``token_expired``.
    """
    now = utcnow()
    row = await email_tokens.usable(session, token, "verify", now)
    await email_tokens.consume(session, row, now)
    user = await session.get(User, row.user_id) if row.user_id is not None else None
    if user is None or user.id is None:  # pragma: no cover - foreign key, decoys are used
        raise AccountError("token_invalid")
    own = row if _flow_matches(row, flow) else None
    if own is None and flow and user.email_verified_at is None:
        own = await _browser_signup(session, user.id, flow, now)
    if user.email_verified_at is not None:
        await session.flush()
        return Verification(user, "this_browser" if own is not None else "elsewhere")
    reset_token = None
    if own is not None and own.password_hash:
        outcome: Outcome = "this_browser"
        user.password_hash = own.password_hash
    elif row.password_hash and not await _competing(session, row):
        outcome = "elsewhere"
        user.password_hash = row.password_hash
    else:
        outcome = "choose_password"
        user.password_hash = NO_PASSWORD
        reset_token = email_tokens.issue(session, user.id, "reset", reset_ttl())
    user.email_verified_at = now
    session.add(user)
    await email_tokens.consume_all(session, user.id, "verify", now)
    await email_tokens.discard_passwords(session, user.id)
    await end_all_sessions(session, user.id)
    await session.flush()
    log.info("email verified user_id=%s outcome=%s", user.id, outcome)
    return Verification(user, outcome, reset_token)


def _flow_matches(row: EmailToken, flow: str | None) -> bool:
    return bool(flow and row.flow_hash and compare_digest(row.flow_hash, token_hash(flow)))


async def _competing(session: AsyncSession, row: EmailToken) -> bool:
    """True when another sign-up of ``row``'s account (a verification link carrying another
    password) was valid at some moment ``row`` was: expiring after ``row`` was issued (any
    link issued since ``row`` qualifies, ``row`` being still valid now)."""
    hashes = (
        await session.exec(
            select(EmailToken.password_hash)
            .distinct()
            .where(EmailToken.user_id == row.user_id)
            .where(EmailToken.purpose == "verify")
            .where(col(EmailToken.password_hash).is_not(None))
            .where(col(EmailToken.expires_at) > row.created_at)
        )
    ).all()
    return len(set(hashes)) > 1


async def _signup_pending(session: AsyncSession, user_id: int, now: datetime) -> bool:
    """True when ``user_id`` has an outstanding (unused, unexpired at ``now``) sign-up link
    (one carrying a password)."""
    row = (
        await session.exec(
            select(EmailToken.id)
            .where(EmailToken.user_id == user_id)
            .where(EmailToken.purpose == "verify")
            .where(col(EmailToken.password_hash).is_not(None))
            .where(col(EmailToken.used_at).is_(None))
            .where(col(EmailToken.expires_at) > now)
        )
    ).first()
    return row is not None


async def _browser_signup(
    session: AsyncSession, user_id: int, flow: str, now: datetime
) -> EmailToken | None:
    """The outstanding (unused, unexpired) verification row of ``user_id`` whose sign-up
    flow cookie is ``flow``, if any."""
    row = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.user_id == user_id)
            .where(EmailToken.purpose == "verify")
            .where(EmailToken.flow_hash == token_hash(flow))
            .where(col(EmailToken.used_at).is_(None))
            .where(col(EmailToken.expires_at) > now)
        )
    ).first()
    return row


async def verify_email(session: AsyncSession, token: str) -> User:
    """:func:`verify_signup` without a browser (tools, tests): returns the user."""
    return (await verify_signup(session, token)).user


async def resend_verification(
    session: AsyncSession, email: str, base_url: str, *, flow_hash: str | None = None
) -> None:
    """Queue exactly one email for a well-formed ``email``, whoever owns it, so the answer
    costs the same for every address: a new verification link (carrying no password: the
    one who opens it chooses one, see :func:`verify_signup`; ``flow_hash`` as in
    :func:`signup`) to an unverified account, an
    "already confirmed" note to a verified one, a "no account" note otherwise. A malformed
    email queues nothing. How often is the route's (per address and per email, see
    :mod:`travelsim.services.auth.request_limits`). Earlier links stay valid until they
    expire or the address is verified. The caller commits."""
    try:
        address = normalise_email(email)
    except AccountError:
        return
    user = await user_by_email(session, address)
    if user is None or user.id is None:
        email_tokens.issue_decoy(session, "verify")
        await account_emails.send_no_account(session, address, base_url, kind="verify_no_account")
    elif user.email_verified_at is None:
        await _send_verification(session, user, base_url, flow_hash=flow_hash, kind="resend")
        log.info("verification resent user_id=%s", user.id)
    else:
        email_tokens.issue_decoy(session, "verify")
        await account_emails.send_already_verified(session, user, base_url)
    await session.flush()


async def notify_existing_signup(session: AsyncSession, email: str, base_url: str) -> None:
    """For a sign-up attempt on an address that already has an account (answered
    neutrally on screen): email the owner instead. Unverified account → nothing here
    (:func:`signup` already queued a link carrying the new pending password); verified →
    a short "you already have an account, sign in" note, at most once per
    :data:`~travelsim.services.auth.email_tokens.RESEND_COOLDOWN`. Silently does nothing
    for a malformed or unknown email. The caller commits."""
    try:
        address = normalise_email(email)
    except AccountError:
        return
    user = await user_by_email(session, address)
    if user is None:
        return
    if user.email_verified_at is None:
        return
    recent = (
        await session.exec(
            select(OutboxEmail)
            .where(OutboxEmail.user_id == user.id)
            .where(OutboxEmail.kind == "account_exists")
            .where(col(OutboxEmail.created_at) > utcnow() - RESEND_COOLDOWN)
        )
    ).first()
    if recent is not None:
        return
    await account_emails.send_account_exists(session, user, base_url)
