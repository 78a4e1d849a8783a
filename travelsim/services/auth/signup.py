"""Sign-up with email verification: create the account, email the link, confirm it.

Pending passwords (docs/architecture.md#security-accounts-and-throttling): each sign-up's
verification link carries the hash of the password *that* sign-up chose
(``email_token.password_hash``). A sign-up for an address whose account is not verified yet
replaces the account's pending password and emails a new link; verifying sets the password of
the link used, voids every other verification link and revokes any earlier session, so no
earlier sign-up's password stays usable. A link signs in only the browser that holds its
sign-up's flow cookie (``flow_hash``); any other browser is only told the address is verified.

Account enumeration: :func:`signup` reports ``email_taken`` honestly (admin tools and tests
need it). The HTTP layer (``travelsim.routes.auth``) answers a duplicate sign-up with the
same "check your email" notice as a new one and calls :func:`notify_existing_signup`, which
emails the address owner instead (a fresh verification link if the account is not verified
yet, otherwise an "you already have an account" note). Links are built on the portal's
public origin (``base_url``), never on the request's ``Host``. Functions work inside the
caller's transaction and **do not commit** (a sign-up and its email are one transaction).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from hmac import compare_digest
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import urls
from travelsim.models import EmailToken, OutboxEmail, User, utcnow
from travelsim.services import email as email_service
from travelsim.services.auth import account_emails, email_tokens
from travelsim.services.auth.credentials import (
    check_password_policy,
    normalise_email,
    user_by_email,
)
from travelsim.services.auth.email_tokens import RESEND_COOLDOWN
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import hash_password_async
from travelsim.services.auth.sessions import end_all_sessions
from travelsim.services.auth.tokens import token_hash

log = logging.getLogger(__name__)

#: Lifetime of an email verification link.
VERIFY_TOKEN_TTL = timedelta(hours=24)


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
    the new password was made the pending one and a link carrying it was queued (the caller
    commits them: nothing earlier stays usable once the owner verifies). On a concurrent
    duplicate the session is rolled back before ``email_taken`` is raised.
    """
    address = normalise_email(email)
    check_password_policy(password, address)
    # Hash before the duplicate check so both outcomes cost the same time.
    password_hash = await hash_password_async(password)
    existing = await user_by_email(session, address)
    if existing is not None:
        if existing.email_verified_at is None and existing.id is not None:
            existing.password_hash = password_hash  # unusable until verified, see verify_signup
            session.add(existing)
            await _send_verification(
                session, existing, base_url, next_path, password_hash, flow_hash
            )
            await session.flush()
            log.info("pending sign-up replaced user_id=%s", existing.id)
        raise AccountError("email_taken")
    user = User(email=address, password_hash=password_hash)
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
    text = (
        "Welcome to TravelSIM!\n\n"
        "Confirm your email address to finish creating your account:\n\n"
        f"{link}\n\n"
        f"The link works once and expires in {hours} hours. "
        "If you did not sign up, ignore this email.\n"
    )
    safe_link = html.escape(link, quote=True)
    body_html = (
        "<p>Welcome to TravelSIM!</p>"
        "<p>Confirm your email address to finish creating your account:</p>"
        f'<p><a href="{safe_link}">Confirm my email address</a></p>'
        f"<p>The link works once and expires in {hours} hours. "
        "If you did not sign up, ignore this email.</p>"
    )
    await email_service.enqueue(
        session,
        to=user.email,
        subject="Confirm your TravelSIM email address",
        text=text,
        html=body_html,
        kind="verify",
        user_id=user.id,
    )


async def verify_signup(
    session: AsyncSession, token: str, flow: str | None = None
) -> tuple[User, bool]:
    """Consume a verification ``token`` (the raw value from the link) and mark its user's
    email verified; returns ``(user, same_browser)``. The caller commits.

    ``flow``: the raw value of this browser's sign-up flow cookie, if any. The sign-up this
    browser made is the link's own, or (when the mailbox holds several links, e.g. someone
    else signed up with the address after this browser did) another outstanding sign-up of
    the same account whose flow cookie this browser holds: that sign-up's password is the
    one kept, and ``same_browser`` is True (the caller may sign this browser in). Without a
    matching sign-up the password is the link's and ``same_browser`` is False.

    On the first verification of the account: the password becomes the chosen sign-up's
    (when it carries one), every other verification link is voided and every session opened
    before is revoked.

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
    chosen = row if _flow_matches(row, flow) else None
    if chosen is None and flow and user.email_verified_at is None:
        chosen = await _browser_signup(session, user.id, flow, now)
    if user.email_verified_at is None:
        user.email_verified_at = now
        password_hash = (chosen or row).password_hash
        if password_hash:
            user.password_hash = password_hash
        session.add(user)
        await email_tokens.consume_all(session, user.id, "verify", now)
        await end_all_sessions(session, user.id)
    await session.flush()
    same_browser = chosen is not None
    log.info("email verified user_id=%s same_browser=%s", user.id, same_browser)
    return user, same_browser


def _flow_matches(row: EmailToken, flow: str | None) -> bool:
    return bool(flow and row.flow_hash and compare_digest(row.flow_hash, token_hash(flow)))


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
    user, _same_browser = await verify_signup(session, token)
    return user


async def resend_verification(
    session: AsyncSession, email: str, base_url: str, *, flow_hash: str | None = None
) -> None:
    """Queue exactly one email for a well-formed ``email``, whoever owns it, so the answer
    costs the same for every address: a new verification link (carrying the account's
    pending password, and ``flow_hash`` as in :func:`signup`) to an unverified account, an
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
        await account_emails.send_no_account(
            session, address, base_url, asked="a new confirmation link", kind="verify_no_account"
        )
    elif user.email_verified_at is None:
        await _send_verification(
            session, user, base_url, password_hash=user.password_hash, flow_hash=flow_hash
        )
        log.info("verification resent user_id=%s", user.id)
    else:
        email_tokens.issue_decoy(session, "verify")
        await account_emails.send_already_verified(session, address, user.id, base_url)
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
    signin = urls.absolute(urls.SIGN_IN, base_url)
    await email_service.enqueue(
        session,
        to=user.email,
        subject="You already have a TravelSIM account",
        text=(
            "Someone (probably you) tried to create a TravelSIM account with this email "
            "address, but you already have one.\n\n"
            f"Sign in here: {signin}\n\n"
            "If it was not you, you can ignore this email: nothing has changed.\n"
        ),
        html=(
            "<p>Someone (probably you) tried to create a TravelSIM account with this email "
            "address, but you already have one.</p>"
            f'<p><a href="{html.escape(signin, quote=True)}">Sign in</a></p>'
            "<p>If it was not you, you can ignore this email: nothing has changed.</p>"
        ),
        kind="account_exists",
        user_id=user.id,
    )
