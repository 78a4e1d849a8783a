"""Session security: sign-in throttling, session start (rotation + how it was established),
the TOTP second factor, password reset by emailed link, sign-out everywhere, staff checks.

No Reflex here. Like :mod:`travelsim.services.accounts`, functions taking an
``AsyncSession`` work inside the caller's transaction and **do not commit**.

Rules:

- **Throttling.** Failed password sign-ins and failed second-factor codes are recorded in
  ``login_attempt``. Once ``SIGNIN_THROTTLE_PER_ACCOUNT`` (5) failures of an account, or
  ``SIGNIN_THROTTLE_PER_ADDRESS`` (20) failures from one client address, fall inside the
  last ``SIGNIN_THROTTLE_WINDOW_SECONDS`` (15 min), further attempts are refused with
  ``throttled`` *before* the credential is even checked (so a throttled guesser learns
  nothing). A successful sign-in clears its account's failures (not the address's).
- **Sessions.** :func:`start_session` revokes the browser's previous session (no session
  fixation), creates a new one and records how it was established (``session_factor``).
- **Second factor.** Staff always, and any user who set up TOTP, must pass a TOTP code
  (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step of clock drift) after the password or provider
  sign-in. Staff without a confirmed TOTP are sent to enrolment first. A code's time step
  is accepted at most once (``user_totp.last_used_step``, compare-and-set). A staff
  session is "full" only once ``session_factor.totp_verified_at`` is set:
  :func:`require_staff` is the gate for staff actions.
- **Password reset.** A single-use link valid ``PASSWORD_RESET_TTL_MINUTES`` (60), emailed
  only to existing accounts (the answer on screen is always the same). Setting the new
  password revokes every session of the account and every other outstanding reset link.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import pyotp
import segno
import ua_parser
from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import (
    AccountDeletion,
    AuthSession,
    EmailToken,
    LoginAttempt,
    SessionFactor,
    User,
    UserTotp,
    utcnow,
)
from travelsim.services import accounts
from travelsim.services import email as email_service
from travelsim.services.accounts import AccountError
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Kinds of throttled attempts.
KIND_PASSWORD = "password"
KIND_TOTP = "totp"
#: TOTP parameters (RFC 6238 defaults, what every authenticator app uses).
TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
#: Accepted clock drift, in time steps either side of now.
TOTP_VALID_WINDOW = 1
#: Session establishment methods (``session_factor.method``).
METHODS = ("password", "oidc", "email_link", "reset")


# --- throttling -----------------------------------------------------------------------------


def throttle_account(raw_email: str) -> str:
    """The account key a sign-in attempt counts against: the normalised email, or for a
    malformed one its trimmed lower-case form (cut to 254 characters)."""
    try:
        return accounts.normalise_email(raw_email)
    except AccountError:
        return (raw_email or "").strip().lower()[:254]


def totp_account(user_id: int) -> str:
    """The account key of second-factor attempts of ``user_id``."""
    return f"user:{user_id}"


async def check_throttle(
    session: AsyncSession,
    *,
    kind: str,
    account: str,
    address: str,
    settings: Settings | None = None,
) -> None:
    """Raise :class:`AccountError` ``throttled`` when ``account`` has
    ``signin_throttle_per_account`` failures of ``kind``, or ``address`` has
    ``signin_throttle_per_address`` failures of any kind, within the last
    ``signin_throttle_window_seconds``. Read-only."""
    cfg = settings or get_settings()
    since = utcnow() - timedelta(seconds=cfg.signin_throttle_window_seconds)
    per_account = (
        await session.exec(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.kind == kind)
            .where(LoginAttempt.account == account)
            .where(col(LoginAttempt.created_at) > since)
        )
    ).one()
    if per_account >= cfg.signin_throttle_per_account:
        log.info("attempt throttled kind=%s reason=account", kind)
        raise AccountError("throttled")
    per_address = (
        await session.exec(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.address == address[:64])
            .where(col(LoginAttempt.created_at) > since)
        )
    ).one()
    if per_address >= cfg.signin_throttle_per_address:
        log.info("attempt throttled kind=%s reason=address", kind)
        raise AccountError("throttled")


async def record_failure(
    session: AsyncSession,
    *,
    kind: str,
    account: str,
    address: str,
    settings: Settings | None = None,
) -> None:
    """Record one failed attempt and prune attempts older than the window. The caller
    commits (also when it then refuses the request)."""
    cfg = settings or get_settings()
    now = utcnow()
    await session.exec(
        delete(LoginAttempt).where(
            col(LoginAttempt.created_at)
            < now - timedelta(seconds=cfg.signin_throttle_window_seconds)
        )
    )
    session.add(
        LoginAttempt(kind=kind, account=account[:254], address=address[:64], created_at=now)
    )
    await session.flush()


async def clear_failures(session: AsyncSession, *, kind: str, account: str) -> None:
    """Forget the failed attempts of ``kind`` against ``account`` (after a success)."""
    await session.exec(
        delete(LoginAttempt)
        .where(col(LoginAttempt.kind) == kind)
        .where(col(LoginAttempt.account) == account)
    )
    await session.flush()


# --- sessions -------------------------------------------------------------------------------


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def session_row(session: AsyncSession, token: str | None) -> AuthSession | None:
    """The live (not revoked, not expired, not idle) session row behind a raw ``token``."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.exec(select(AuthSession).where(AuthSession.token_hash == _sha256(token)))
    ).first()
    if row is None:
        return None
    now = utcnow()
    if (
        row.revoked_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at >= accounts.SESSION_IDLE_TTL
    ):
        return None
    return row


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    method: str,
    previous_token: str | None = None,
    user_agent: str | None = None,
    oidc_identity_id: int | None = None,
    id_token: str | None = None,
) -> str:
    """Sign ``user`` in: revoke the browser's ``previous_token`` session (rotation), create a
    new session and record its ``method`` (one of :data:`METHODS`; for ``oidc`` the
    identity and the ID token, encrypted, for the provider's end-session). Returns the raw
    token for the cookie. The caller commits."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    await accounts.end_session(session, previous_token)
    raw = await accounts.create_session(session, user, user_agent=user_agent)
    row = await session_row(session, raw)
    assert row is not None and row.id is not None
    session.add(
        SessionFactor(
            session_id=row.id,
            method=method,
            oidc_identity_id=oidc_identity_id,
            id_token_enc=secret_box().encrypt(id_token) if id_token else None,
        )
    )
    await session.flush()
    return raw


async def session_factor(session: AsyncSession, token: str | None) -> SessionFactor | None:
    """The ``session_factor`` row of the live session behind ``token``, if any."""
    row = await session_row(session, token)
    if row is None or row.id is None:
        return None
    return await session.get(SessionFactor, row.id)


@dataclass(frozen=True)
class SessionInfo:
    """One open session of a user, for the security page (no token, no hash).
    ``user_agent`` is the raw header (``"Unknown browser"`` when none was sent)."""

    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    method: str
    current: bool

    @property
    def device(self) -> str:
        """Browser and system, e.g. ``"Chrome 126 on Windows"`` (:func:`describe_user_agent`)."""
        return describe_user_agent(self.user_agent)


UNKNOWN_BROWSER = "Unknown browser"
#: Longer user-agent strings are cut before parsing (real ones are a few hundred characters).
_UA_PARSE_LIMIT = 512
_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
_BROWSER_SUFFIXES = (" Mobile iOS", " Mobile WebView", " Mobile", " iOS")


@lru_cache(maxsize=1024)
def describe_user_agent(user_agent: str) -> str:
    """``"Chrome 126 on Windows"``, ``"Safari 17 on iPhone"``, ``"Firefox 128 on macOS"``:
    browser family without its "Mobile"/"iOS" variant and major version, then the system
    (an iPhone or iPad by its device name). Parsed with ``ua-parser`` (the uap-core rules);
    ``"Unknown browser"`` when it recognises no browser."""
    text = (user_agent or "").strip()[:_UA_PARSE_LIMIT]
    if not text:
        return UNKNOWN_BROWSER
    result = ua_parser.parse(text)
    agent = result.user_agent
    if agent is None or agent.family in ("", "Other"):
        return UNKNOWN_BROWSER
    browser = agent.family
    for suffix in _BROWSER_SUFFIXES:
        if browser.endswith(suffix) and len(browser) > len(suffix):
            browser = browser[: -len(suffix)]
            break
    if browser.startswith("Mobile ") and len(browser) > len("Mobile "):
        browser = browser[len("Mobile ") :]  # "Mobile Safari"
    if browser == "HeadlessChrome":
        browser = "Headless Chrome"
    name = f"{browser} {agent.major}" if agent.major else browser
    system = result.os.family if result.os is not None else ""
    device = result.device.family if result.device is not None else ""
    if system == "iOS" and device in ("iPhone", "iPad", "iPod"):
        system = device
    system = _OS_NAMES.get(system, system)
    if not system or system == "Other":
        return name
    return f"{name} on {system}"


async def list_sessions(
    session: AsyncSession, user_id: int, current_token: str | None
) -> list[SessionInfo]:
    """The live sessions of ``user_id``, newest first; ``current`` marks ``current_token``'s."""
    now = utcnow()
    rows = (
        await session.exec(
            select(AuthSession)
            .where(AuthSession.user_id == user_id)
            .where(col(AuthSession.revoked_at).is_(None))
            .where(col(AuthSession.expires_at) > now)
            .where(col(AuthSession.last_seen_at) > now - accounts.SESSION_IDLE_TTL)
            .order_by(col(AuthSession.created_at).desc())
        )
    ).all()
    current_hash = _sha256(current_token) if current_token else None
    out: list[SessionInfo] = []
    for row in rows:
        factor = await session.get(SessionFactor, row.id)
        out.append(
            SessionInfo(
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                user_agent=row.user_agent or "Unknown browser",
                method=factor.method if factor else "password",
                current=row.token_hash == current_hash,
            )
        )
    return out


async def sign_out_everywhere(session: AsyncSession, user_id: int) -> None:
    """Revoke every session of ``user_id``, this browser's included. The caller commits."""
    await accounts.end_all_sessions(session, user_id)
    log.info("signed out everywhere user_id=%s", user_id)


# --- TOTP -----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits, 32 characters)."""
    return pyotp.random_base32()


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)


def totp_step(at: datetime) -> int:
    """The RFC 6238 time step of ``at``: ``floor(unix_time / 30)``."""
    return int(at.timestamp()) // TOTP_PERIOD_SECONDS


def matching_totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step (within ±:data:`TOTP_VALID_WINDOW` of ``at``) whose code is ``code``
    (spaces ignored), or ``None``. Constant-time comparison."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    now_step = totp_step(at)
    found: int | None = None
    for step in range(max(0, now_step - TOTP_VALID_WINDOW), now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://totp/<issuer>:<email>?secret=…&issuer=…`` URI authenticator apps
    scan (Key Uri Format)."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg_data_uri(uri: str) -> str:
    """``uri`` as a QR code, as an SVG ``data:`` URI (segno, error correction M)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


async def totp_of(session: AsyncSession, user_id: int) -> UserTotp | None:
    """The TOTP row of ``user_id`` (confirmed or pending), if any."""
    return await session.get(UserTotp, user_id)


def second_factor_required(user: User, totp: UserTotp | None) -> bool:
    """True for staff, and for anyone with a confirmed TOTP."""
    return user.is_staff or (totp is not None and totp.confirmed_at is not None)


async def needs_second_factor(session: AsyncSession, user: User, token: str | None) -> bool:
    """True when ``user`` must still pass (or enrol) TOTP in the session behind ``token``."""
    assert user.id is not None
    if not second_factor_required(user, await totp_of(session, user.id)):
        return False
    factor = await session_factor(session, token)
    return factor is None or factor.totp_verified_at is None


def second_factor_path(next_path: str) -> str:
    """The page where a signed-in user passes (or sets up) the second factor."""
    return "/security/totp" + ("" if next_path == "/" else f"?next={quote(next_path, safe='')}")


async def after_signin_path(session: AsyncSession, user: User, token: str, next_path: str) -> str:
    """Where to send ``user`` right after signing in with ``token``: the second-factor page
    when one is required, else ``next_path``."""
    if await needs_second_factor(session, user, token):
        return second_factor_path(next_path)
    return next_path


async def begin_totp_enrolment(session: AsyncSession, user: User) -> str:
    """The pending TOTP secret of ``user`` (created on first call, the same one until it is
    confirmed). Raises :class:`AccountError` ``totp_already`` once confirmed. The caller
    commits."""
    assert user.id is not None
    row = await totp_of(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise AccountError("totp_already")
    if row is not None:
        return secret_box().decrypt(row.secret_enc)
    secret = new_totp_secret()
    session.add(UserTotp(user_id=user.id, secret_enc=secret_box().encrypt(secret)))
    await session.flush()
    return secret


async def _accept_code(
    session: AsyncSession,
    user: User,
    row: UserTotp,
    code: str,
    *,
    session_token: str | None,
    address: str,
) -> None:
    """Throttle, match ``code``, consume its time step, mark this session verified."""
    assert user.id is not None
    account = totp_account(user.id)
    await check_throttle(session, kind=KIND_TOTP, account=account, address=address)
    step = matching_totp_step(secret_box().decrypt(row.secret_enc), code, utcnow())
    accepted = False
    if step is not None:
        result: Any = await session.exec(
            update(UserTotp)
            .where(col(UserTotp.user_id) == user.id)
            .where((col(UserTotp.last_used_step).is_(None)) | (col(UserTotp.last_used_step) < step))
            .values(last_used_step=step)
        )
        accepted = result.rowcount == 1
    if not accepted:
        await record_failure(session, kind=KIND_TOTP, account=account, address=address)
        log.info("second factor refused user_id=%s", user.id)
        raise AccountError("totp_invalid")
    await clear_failures(session, kind=KIND_TOTP, account=account)
    factor = await session_factor(session, session_token)
    auth_row = await session_row(session, session_token)
    if auth_row is None or auth_row.id is None or auth_row.user_id != user.id:
        raise AccountError("signin_required")
    if factor is None:
        factor = SessionFactor(session_id=auth_row.id, method="password")
    factor.totp_verified_at = utcnow()
    session.add(factor)
    await session.flush()


async def confirm_totp_enrolment(
    session: AsyncSession, user: User, code: str, *, session_token: str | None, address: str
) -> None:
    """Finish enrolment with a first correct ``code``: TOTP confirmed, this session
    verified. Raises :class:`AccountError` ``totp_already``, ``totp_invalid``,
    ``throttled``, ``signin_required``. The caller commits (also after a refusal, to keep
    the failure count)."""
    assert user.id is not None
    row = await totp_of(session, user.id)
    if row is None:
        raise AccountError("totp_invalid")
    if row.confirmed_at is not None:
        raise AccountError("totp_already")
    await _accept_code(session, user, row, code, session_token=session_token, address=address)
    row.confirmed_at = utcnow()
    session.add(row)
    await session.flush()
    log.info("second factor enrolled user_id=%s", user.id)


async def verify_totp(
    session: AsyncSession, user: User, code: str, *, session_token: str | None, address: str
) -> None:
    """Pass the second factor in the session behind ``session_token``. Raises
    :class:`AccountError` ``totp_invalid`` (wrong, replayed, or no confirmed TOTP),
    ``throttled``, ``signin_required``. The caller commits."""
    assert user.id is not None
    row = await totp_of(session, user.id)
    if row is None or row.confirmed_at is None:
        raise AccountError("totp_invalid")
    await _accept_code(session, user, row, code, session_token=session_token, address=address)


async def require_staff(user: User | None, session_token: str | None) -> User:
    """``user`` if it is a staff member whose session behind ``session_token`` is theirs,
    alive and has passed the second factor. Raises :class:`AccountError` ``forbidden``
    (signed out, not staff, someone else's or a dead session) or
    ``second_factor_required``. Call it at the top of every staff handler and route."""
    if user is None or not user.is_staff or user.id is None:
        raise AccountError("forbidden")
    async with db.session() as s:
        row = await session_row(s, session_token)
        if row is None or row.user_id != user.id or row.id is None:
            raise AccountError("forbidden")
        factor = await s.get(SessionFactor, row.id)
        if factor is None or factor.totp_verified_at is None:
            raise AccountError("second_factor_required")
    return user


# --- password reset -------------------------------------------------------------------------


def reset_ttl(settings: Settings | None = None) -> timedelta:
    """Lifetime of a password reset link (``PASSWORD_RESET_TTL_MINUTES``)."""
    return timedelta(minutes=(settings or get_settings()).password_reset_ttl_minutes)


async def _is_deleted(session: AsyncSession, user_id: int) -> bool:
    return await session.get(AccountDeletion, user_id) is not None


async def request_password_reset(session: AsyncSession, email: str, base_url: str) -> None:
    """Email a reset link ``{base_url}/password/reset?token=…`` (single use, valid
    :func:`reset_ttl`) if ``email`` belongs to an account, at most once per
    ``accounts.RESEND_COOLDOWN``. Silently does nothing otherwise, so the caller always
    answers the same. The caller commits."""
    try:
        address = accounts.normalise_email(email)
    except AccountError:
        return
    user = (await session.exec(select(User).where(User.email == address))).first()
    if user is None or user.id is None or await _is_deleted(session, user.id):
        return
    now = utcnow()
    recent = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.user_id == user.id)
            .where(EmailToken.purpose == "reset")
            .where(col(EmailToken.created_at) > now - accounts.RESEND_COOLDOWN)
        )
    ).first()
    if recent is not None:
        log.info("password reset throttled user_id=%s", user.id)
        return
    raw = secrets.token_urlsafe(32)
    ttl = reset_ttl()
    session.add(
        EmailToken(
            user_id=user.id,
            purpose="reset",
            token_hash=_sha256(raw),
            expires_at=now + ttl,
            created_at=now,
        )
    )
    link = f"{base_url.rstrip('/')}/password/reset?token={raw}"
    minutes = int(ttl.total_seconds() // 60)
    await email_service.enqueue(
        session,
        to=user.email,
        subject="Reset your TravelSIM password",
        text=(
            "Someone (probably you) asked to reset the password of your TravelSIM account.\n\n"
            f"Choose a new password here:\n\n{link}\n\n"
            f"The link works once and expires in {minutes} minutes. Setting a new password "
            "signs you out everywhere else.\n"
            "If it was not you, ignore this email: your password has not changed.\n"
        ),
        html=(
            "<p>Someone (probably you) asked to reset the password of your TravelSIM "
            "account.</p>"
            f'<p><a href="{html.escape(link, quote=True)}">Choose a new password</a></p>'
            f"<p>The link works once and expires in {minutes} minutes. Setting a new "
            "password signs you out everywhere else.</p>"
            "<p>If it was not you, ignore this email: your password has not changed.</p>"
        ),
        kind="password_reset",
        user_id=user.id,
    )
    await session.flush()
    log.info("password reset sent user_id=%s", user.id)


async def _reset_row(session: AsyncSession, token: str) -> EmailToken:
    if not token or len(token) > 200:
        raise AccountError("reset_token_invalid")
    row = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.token_hash == _sha256(token))
            .where(EmailToken.purpose == "reset")
        )
    ).first()
    if row is None:
        raise AccountError("reset_token_invalid")
    if row.used_at is not None:
        raise AccountError("reset_token_used")
    if utcnow() >= row.expires_at:
        raise AccountError("reset_token_expired")
    return row


async def check_reset_token(session: AsyncSession, token: str) -> User:
    """The user a still-usable reset ``token`` belongs to (does not consume it). Raises
    :class:`AccountError` ``reset_token_invalid``, ``reset_token_used``,
    ``reset_token_expired``."""
    row = await _reset_row(session, token)
    user = await session.get(User, row.user_id)
    if user is None or await _is_deleted(session, row.user_id):
        raise AccountError("reset_token_invalid")
    return user


async def reset_password(session: AsyncSession, token: str, new_password: str) -> User:
    """Consume the reset ``token`` and set ``new_password``: the email counts as verified
    (the link proved it), every session of the account and every other reset link is
    revoked, and the account's failed sign-ins are forgotten. Returns the user; the caller
    starts a new session and commits. Raises :class:`AccountError` as
    :func:`check_reset_token` plus the password policy codes."""
    row = await _reset_row(session, token)
    user = await session.get(User, row.user_id)
    if user is None or user.id is None or await _is_deleted(session, row.user_id):
        raise AccountError("reset_token_invalid")
    accounts.check_password_policy(new_password, user.email)
    password_hash = accounts.hash_password(new_password)
    now = utcnow()
    result: Any = await session.exec(
        update(EmailToken)
        .where(col(EmailToken.id) == row.id)
        .where(col(EmailToken.used_at).is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise AccountError("reset_token_used")
    await session.exec(
        update(EmailToken)
        .where(col(EmailToken.user_id) == user.id)
        .where(col(EmailToken.purpose) == "reset")
        .where(col(EmailToken.used_at).is_(None))
        .values(used_at=now)
    )
    user.password_hash = password_hash
    if user.email_verified_at is None:
        user.email_verified_at = now
    session.add(user)
    await accounts.end_all_sessions(session, user.id)
    await clear_failures(session, kind=KIND_PASSWORD, account=user.email)
    await session.flush()
    log.info("password reset done user_id=%s", user.id)
    return user
