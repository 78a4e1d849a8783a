"""Traveler accounts: sign-up with email verification, password sign-in, cookie sessions.

No Reflex here. Every function that takes an ``AsyncSession`` works inside the caller's
transaction and **does not commit**: the caller commits (so a sign-up and its
verification email are one transaction). Functions that only read may still write small
bookkeeping (``last_seen_at``, a password rehash) that the caller's commit persists.

Secrets: passwords are hashed with Argon2id (``argon2-cffi`` defaults, rehashed on sign-in
when the parameters change); email tokens and session tokens are 256-bit random
``secrets.token_urlsafe(32)`` strings of which only the SHA-256 (hex) is stored. None of
them, nor passwords, are ever logged; logs name users by id.

Account enumeration: the service reports ``email_taken`` honestly (admin tools and tests
need it). The HTTP layer (``travelsim.routes.auth``) answers a duplicate sign-up with the
same "check your email" notice as a new one and calls :func:`notify_existing_signup`,
which emails the address owner instead (a fresh verification link if the account is not
verified yet, otherwise an "you already have an account" note). Sign-in answers
``invalid_credentials`` for an unknown email and a wrong password alike, after the same
Argon2 work; ``unverified`` is only revealed to someone who knows the password.

Error codes (:class:`AccountError.code`) and their user-facing messages are listed in
:data:`ERROR_MESSAGES`; pages can show ``message_for(code)`` for a ``?error=`` code.
"""

from __future__ import annotations

import hashlib
import html
import logging
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlencode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import AuthSession, EmailToken, OutboxEmail, User, utcnow
from travelsim.services import email as email_service

log = logging.getLogger(__name__)

#: Name of the HttpOnly cookie holding the raw session token.
COOKIE_NAME = "travelsim_session"
#: A session ends this long after sign-in, however active it is.
SESSION_ABSOLUTE_TTL = timedelta(days=30)
#: A session ends after this long without a request.
SESSION_IDLE_TTL = timedelta(days=7)
#: ``last_seen_at`` is written at most this often (saves a write per request).
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
#: Lifetime of an email verification link.
VERIFY_TOKEN_TTL = timedelta(hours=24)
#: No second verification (or "account exists") email to one user within this delay.
RESEND_COOLDOWN = timedelta(minutes=1)
#: Password length bounds, in characters.
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128

ERROR_MESSAGES: dict[str, str] = {
    "email_invalid": "Please enter a valid email address.",
    "email_taken": "An account with this email already exists. Sign in instead.",
    "password_too_short": f"Use at least {PASSWORD_MIN_LENGTH} characters for your password.",
    "password_too_long": f"Use at most {PASSWORD_MAX_LENGTH} characters for your password.",
    "password_blank": "Your password cannot be only spaces.",
    "password_is_email": "Your password cannot be your email address.",
    "invalid_credentials": "Wrong email or password.",
    "unverified": "Please confirm your email address first: we can send the link again.",
    "token_invalid": "This link is not valid. Request a new one.",
    "token_used": "This link was already used. Your email is confirmed: please sign in.",
    "token_expired": "This link has expired. Request a new one.",
    "csrf": "This request came from another site and was refused.",
    # session security (travelsim.services.security)
    "throttled": "Too many failed attempts. Please wait 15 minutes and try again.",
    "totp_invalid": "That code is not right, or was already used. Enter the current code "
    "from your authenticator app.",
    "totp_already": "Two-step verification is already set up for this account.",
    "second_factor_required": "Please complete two-step verification first.",
    "forbidden": "You are not allowed to do this.",
    "signin_required": "Please sign in first.",
    "passwords_differ": "The two passwords are different.",
    "reset_token_invalid": "This password reset link is not valid. Request a new one.",
    "reset_token_used": "This password reset link was already used. Request a new one.",
    "reset_token_expired": "This password reset link has expired. Request a new one.",
    # sign-in with an identity provider (travelsim.services.oidc)
    "oidc_disabled": "Sign-in with an identity provider is not available.",
    "oidc_denied": "Sign-in was cancelled at your identity provider.",
    "oidc_failed": "Sign-in with your identity provider could not be completed. Please try again.",
    "oidc_unavailable": "Your identity provider could not be reached. Please try again later.",
    "oidc_no_email": "Your identity provider did not share an email address, so we cannot "
    "sign you in.",
    "oidc_unverified": "We cannot sign you in with this provider account: its email address "
    "is not verified, here or at the provider. Sign in with your password, or confirm your "
    "email address first.",
    # privacy (travelsim.services.privacy)
    "delete_confirm": "To delete your account, type your email address exactly and tick the box.",
    "delete_pending": "An order of yours is still being prepared. Please try again once it "
    "is delivered.",
    "delete_failed": "We could not suspend your eSIMs right now, so nothing was deleted. "
    "Please try again in a few minutes.",
}


def message_for(code: str) -> str:
    """The user-facing sentence for an error ``code`` (a generic one for unknown codes)."""
    return ERROR_MESSAGES.get(code, "Something went wrong. Please try again.")


class AccountError(ValueError):
    """A refused account operation. ``code``: a key of :data:`ERROR_MESSAGES` (stable,
    safe in URLs); ``message``: a sentence to show the user (no secrets)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or message_for(code)
        super().__init__(f"{code}: {self.message}")


# --- emails and passwords -------------------------------------------------------------------


def normalise_email(raw: str) -> str:
    """``raw`` validated (syntax only, no DNS) and lower-cased, e.g.
    ``" Ana@Example.COM "`` → ``"ana@example.com"``. Internationalised domains come back
    in Unicode (NFC). Raises :class:`AccountError` ``email_invalid``."""
    if not isinstance(raw, str) or not raw.strip():
        raise AccountError("email_invalid")
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("email_invalid") from exc
    return info.normalized.lower()


def check_password_policy(password: str, email: str) -> None:
    """Raise :class:`AccountError` unless ``password`` is 10 to 128 characters, not only
    whitespace and not the (normalised) ``email`` itself, in any case or with
    surrounding spaces. Codes: ``password_too_short``, ``password_too_long``,
    ``password_blank``, ``password_is_email``."""
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError("password_too_long")
    if not password.strip():
        raise AccountError("password_blank")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError("password_too_short")
    if password.strip().lower() == email.strip().lower():
        raise AccountError("password_is_email")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash verified against for unknown emails, so they cost the same Argon2 work."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password`` (``$argon2id$v=19$m=…``)."""
    return _hasher().hash(password)


def _verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> tuple[str, str]:
    """A fresh ``(raw, sha256 hex)`` pair."""
    raw = secrets.token_urlsafe(32)
    return raw, _sha256(raw)


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.exec(select(User).where(User.email == email))).first()


# --- sign-up and verification ---------------------------------------------------------------


async def signup(
    session: AsyncSession, email: str, password: str, *, base_url: str, next_path: str = "/"
) -> User:
    """Create an unverified user and queue its verification email; returns the user
    (flushed, with an id). The caller commits.

    ``base_url``: the portal's public origin (``settings.public_url``, never the request's
    Host header), e.g. ``https://travelsim.example``; the email links to
    ``{base_url}/auth/verify?token=…``, valid :data:`VERIFY_TOKEN_TTL` (24 h), single use.
    ``next_path``: a relative path already checked by the caller (``routes.auth.safe_next``),
    e.g. the checkout the traveler was on; other than ``/`` it rides in the link as
    ``&next=…`` so verifying lands there (the verify route checks it again).

    Raises :class:`AccountError`: ``email_invalid``, a password policy code (see
    :func:`check_password_policy`) or ``email_taken``. On a concurrent duplicate the
    session is rolled back before ``email_taken`` is raised.
    """
    address = normalise_email(email)
    check_password_policy(password, address)
    # Hash before the duplicate check so both outcomes cost the same time.
    password_hash = hash_password(password)
    if await _user_by_email(session, address) is not None:
        raise AccountError("email_taken")
    user = User(email=address, password_hash=password_hash)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise AccountError("email_taken") from exc
    await _send_verification(session, user, base_url, next_path)
    log.info("account created user_id=%s", user.id)
    return user


async def _send_verification(
    session: AsyncSession, user: User, base_url: str, next_path: str = "/"
) -> None:
    assert user.id is not None
    raw, digest = _new_token()
    now = utcnow()
    session.add(
        EmailToken(
            user_id=user.id,
            purpose="verify",
            token_hash=digest,
            expires_at=now + VERIFY_TOKEN_TTL,
            created_at=now,
        )
    )
    link = f"{base_url.rstrip('/')}/auth/verify?token={raw}"
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


async def verify_email(session: AsyncSession, token: str) -> User:
    """Consume a verification ``token`` (the raw value from the link) and mark its user's
    email verified; returns the user. The caller commits.

    Single use, enforced by a compare-and-set on ``used_at`` (safe against two clicks at
    once). Raises :class:`AccountError`: ``token_invalid`` (unknown, malformed or not a
    verification token), ``token_used``, ``token_expired``.
    """
    if not token or len(token) > 200:
        raise AccountError("token_invalid")
    row = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.token_hash == _sha256(token))
            .where(EmailToken.purpose == "verify")
        )
    ).first()
    if row is None:
        raise AccountError("token_invalid")
    if row.used_at is not None:
        raise AccountError("token_used")
    now = utcnow()
    if now >= row.expires_at:
        raise AccountError("token_expired")
    result: Any = await session.exec(
        update(EmailToken)
        .where(col(EmailToken.id) == row.id)
        .where(col(EmailToken.used_at).is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise AccountError("token_used")
    user = await session.get(User, row.user_id)
    if user is None:  # pragma: no cover - foreign key
        raise AccountError("token_invalid")
    if user.email_verified_at is None:
        user.email_verified_at = now
        session.add(user)
    await session.flush()
    log.info("email verified user_id=%s", user.id)
    return user


async def resend_verification(session: AsyncSession, email: str, base_url: str) -> None:
    """Queue a new verification email if ``email`` belongs to an unverified user and no
    verification email was issued to them in the last :data:`RESEND_COOLDOWN`.
    Silently does nothing otherwise (malformed or unknown email, verified user,
    cooldown) so callers can always answer neutrally. Earlier links stay valid until
    they expire. The caller commits."""
    try:
        address = normalise_email(email)
    except AccountError:
        return
    user = await _user_by_email(session, address)
    if user is None or user.email_verified_at is not None:
        return
    recent = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.user_id == user.id)
            .where(EmailToken.purpose == "verify")
            .where(col(EmailToken.created_at) > utcnow() - RESEND_COOLDOWN)
        )
    ).first()
    if recent is not None:
        log.info("verification resend throttled user_id=%s", user.id)
        return
    await _send_verification(session, user, base_url)
    log.info("verification resent user_id=%s", user.id)


async def notify_existing_signup(session: AsyncSession, email: str, base_url: str) -> None:
    """For a sign-up attempt on an address that already has an account (answered
    neutrally on screen): email the owner instead. Unverified account → a new
    verification link (:func:`resend_verification`); verified → a short "you already
    have an account, sign in" note, at most once per :data:`RESEND_COOLDOWN`. Silently
    does nothing for a malformed or unknown email. The caller commits."""
    try:
        address = normalise_email(email)
    except AccountError:
        return
    user = await _user_by_email(session, address)
    if user is None:
        return
    if user.email_verified_at is None:
        await resend_verification(session, address, base_url)
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
    signin = f"{base_url.rstrip('/')}/signin"
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


# --- sign-in --------------------------------------------------------------------------------


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with this email and password; rehashes the password (caller commits)
    when the Argon2 parameters changed.

    Raises :class:`AccountError`: ``invalid_credentials`` (malformed or unknown email,
    wrong password: the same Argon2 verification runs in every case), ``unverified``
    (right password, email not confirmed yet: offer :func:`resend_verification`).
    """
    if len(password) > PASSWORD_MAX_LENGTH:
        # Never longer than any stored password: refuse without hashing an unbounded input.
        raise AccountError("invalid_credentials")
    try:
        address = normalise_email(email)
    except AccountError:
        _verify_password(_dummy_hash(), password)
        raise AccountError("invalid_credentials") from None
    user = await _user_by_email(session, address)
    if user is None:
        _verify_password(_dummy_hash(), password)
        raise AccountError("invalid_credentials")
    if not _verify_password(user.password_hash, password):
        log.info("sign-in refused user_id=%s reason=password", user.id)
        raise AccountError("invalid_credentials")
    if user.email_verified_at is None:
        raise AccountError("unverified")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
        await session.flush()
        log.info("password rehashed user_id=%s", user.id)
    return user


# --- sessions -------------------------------------------------------------------------------


async def create_session(
    session: AsyncSession, user: User, *, user_agent: str | None = None
) -> str:
    """Start a browser session for ``user``; returns the raw token for the cookie
    :data:`COOKIE_NAME` (only its SHA-256 is stored). Expires after
    :data:`SESSION_ABSOLUTE_TTL` (30 days) or :data:`SESSION_IDLE_TTL` (7 days) without
    use. ``user_agent`` is kept (first 300 characters) for the account's session list.
    The caller commits."""
    assert user.id is not None
    raw, digest = _new_token()
    now = utcnow()
    session.add(
        AuthSession(
            token_hash=digest,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_ABSOLUTE_TTL,
            user_agent=user_agent[:300] if user_agent else None,
        )
    )
    await session.flush()
    log.info("session started user_id=%s", user.id)
    return raw


def _session_alive(row: AuthSession, now: datetime) -> bool:
    return (
        row.revoked_at is None
        and now < row.expires_at
        and now - row.last_seen_at < SESSION_IDLE_TTL
    )


async def resolve_session(session: AsyncSession, token: str | None) -> User | None:
    """The user behind a raw session ``token``, or ``None`` when it is missing, unknown,
    revoked, past its absolute expiry or idle for :data:`SESSION_IDLE_TTL`. Bumps
    ``last_seen_at`` when it is older than :data:`SESSION_TOUCH_INTERVAL` (one minute);
    the caller commits to keep the bump."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.exec(select(AuthSession).where(AuthSession.token_hash == _sha256(token)))
    ).first()
    now = utcnow()
    if row is None or not _session_alive(row, now):
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
        await session.flush()
    return await session.get(User, row.user_id)


async def end_session(session: AsyncSession, token: str | None) -> None:
    """Revoke the session behind ``token`` (no-op when unknown or already revoked).
    The caller commits."""
    if not token or len(token) > 200:
        return
    await session.exec(
        update(AuthSession)
        .where(col(AuthSession.token_hash) == _sha256(token))
        .where(col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    await session.flush()


async def end_all_sessions(session: AsyncSession, user_id: int) -> None:
    """Revoke every open session of ``user_id`` (password change, staff action).
    The caller commits."""
    await session.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id)
        .where(col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    await session.flush()


# --- helpers for the web layer --------------------------------------------------------------


def token_from_cookie_header(cookie_header: str | None) -> str | None:
    """The session token from a raw ``Cookie:`` header (e.g. Reflex's
    ``self.router.headers.cookie``), or ``None``."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


async def user_for_token(token: str | None) -> User | None:
    """Like :func:`resolve_session` in its own database session (committed): for Reflex
    states and routes that have a cookie value but no session at hand. Re-check it in
    every event handler; never trust a user id passed from the browser."""
    if not token:
        return None
    async with db.session() as s:
        user = await resolve_session(s, token)
        await s.commit()
        return user
