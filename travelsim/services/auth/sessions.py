"""Browser sessions: start (rotated, with how it was established), resolve, end, list.

A session is an ``auth_session`` row keyed by the SHA-256 of a random token
(:mod:`travelsim.services.auth.tokens`) that lives only in the HttpOnly cookie
:data:`COOKIE_NAME`. It ends :data:`SESSION_ABSOLUTE_TTL` (30 days) after sign-in, or after
:data:`SESSION_IDLE_TTL` (7 days) without a request, or when revoked (sign-out, sign-out
everywhere, password reset, account deletion). Its ``session_factor`` row records how it
was established (:data:`METHODS`) and when it passed the second factor.

A live session that still owes its second factor (staff always, and anyone with a confirmed
TOTP, until ``session_factor.totp_verified_at`` is set) is **signed out** for the ordinary
resolvers :func:`resolve_session` and :func:`user_for_token`, and so for every page, event
handler and route built on them. Only the second-factor page and its routes use
:func:`pending_user`, which also returns such a session's user (docs/architecture.md,
"Security: sessions and the second factor").

:func:`start_session` revokes the browser's previous session (no session fixation). Like
the rest of the package, functions taking an ``AsyncSession`` work inside the caller's
transaction and **do not commit**.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie

import ua_parser
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import AuthSession, SessionFactor, User, UserTotp, utcnow
from travelsim.services.auth.tokens import new_token, plausible, token_hash

log = logging.getLogger(__name__)

#: Name of the HttpOnly cookie holding the raw session token.
COOKIE_NAME = "travelsim_session"
#: A session ends this long after sign-in, however active it is.
SESSION_ABSOLUTE_TTL = timedelta(days=30)
#: A session ends after this long without a request.
SESSION_IDLE_TTL = timedelta(days=7)
#: ``last_seen_at`` is written at most this often (saves a write per request).
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
#: Session establishment methods (``session_factor.method``).
METHODS = ("password", "oidc", "email_link", "reset")


# --- one session ----------------------------------------------------------------------------


async def create_session(
    session: AsyncSession, user: User, *, user_agent: str | None = None
) -> str:
    """Start a browser session for ``user``; returns the raw token for the cookie
    :data:`COOKIE_NAME` (only its SHA-256 is stored). Expires after
    :data:`SESSION_ABSOLUTE_TTL` (30 days) or :data:`SESSION_IDLE_TTL` (7 days) without
    use. ``user_agent`` is kept (first 300 characters) for the account's session list.
    No ``session_factor`` row (:func:`start_session` adds one). The caller commits."""
    raw, _row = await _create(session, user, user_agent)
    return raw


async def _create(
    session: AsyncSession, user: User, user_agent: str | None
) -> tuple[str, AuthSession]:
    assert user.id is not None
    raw, digest = new_token()
    now = utcnow()
    row = AuthSession(
        token_hash=digest,
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_ABSOLUTE_TTL,
        user_agent=user_agent[:300] if user_agent else None,
    )
    session.add(row)
    await session.flush()
    log.info("session started user_id=%s", user.id)
    return raw, row


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
    token for the cookie. Raises ``ValueError`` for an unknown ``method``. The caller
    commits."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    await end_session(session, previous_token)
    raw, row = await _create(session, user, user_agent)
    assert row.id is not None
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


def _alive(row: AuthSession, now: datetime) -> bool:
    """Not revoked, before its absolute expiry, used within :data:`SESSION_IDLE_TTL`."""
    return (
        row.revoked_at is None
        and now < row.expires_at
        and now - row.last_seen_at < SESSION_IDLE_TTL
    )


async def session_row(session: AsyncSession, token: str | None) -> AuthSession | None:
    """The live (not revoked, not expired, not idle) session row behind a raw ``token``."""
    if not plausible(token):
        return None
    row = (
        await session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    ).first()
    if row is None or not _alive(row, utcnow()):
        return None
    return row


def second_factor_required(user: User, totp: UserTotp | None) -> bool:
    """True for staff, and for anyone with a confirmed TOTP (``totp``: the user's
    ``user_totp`` row, confirmed or pending, or ``None``)."""
    return user.is_staff or (totp is not None and totp.confirmed_at is not None)


async def _live_user(session: AsyncSession, token: str | None) -> tuple[User, AuthSession] | None:
    """The user and live row behind ``token``; bumps ``last_seen_at`` when it is older than
    :data:`SESSION_TOUCH_INTERVAL` (the caller commits to keep the bump)."""
    row = await session_row(session, token)
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
        await session.flush()
    user = await session.get(User, row.user_id)
    return None if user is None else (user, row)


async def _owes_second_factor(session: AsyncSession, user: User, row: AuthSession) -> bool:
    """True when the session ``row`` of ``user`` must still pass (or enrol) TOTP."""
    assert user.id is not None
    if not second_factor_required(user, await session.get(UserTotp, user.id)):
        return False
    factor = await session.get(SessionFactor, row.id)
    return factor is None or factor.totp_verified_at is None


async def resolve_session(session: AsyncSession, token: str | None) -> User | None:
    """The user behind a raw session ``token``, or ``None`` when it is missing, unknown,
    revoked, past its absolute expiry, idle for :data:`SESSION_IDLE_TTL`, **or still owes
    its second factor** (:func:`second_factor_required` and not yet passed in this
    session: such a session is signed out everywhere but the second-factor page, which
    uses :func:`pending_user`). Bumps ``last_seen_at`` when it is older than
    :data:`SESSION_TOUCH_INTERVAL` (one minute); the caller commits to keep the bump."""
    found = await _live_user(session, token)
    if found is None:
        return None
    user, row = found
    return None if await _owes_second_factor(session, user, row) else user


async def pending_user(session: AsyncSession, token: str | None) -> User | None:
    """The user behind any live session ``token``, **including one that still owes its
    second factor**; ``None`` when missing, unknown, revoked, expired or idle. For the
    second-factor page and its routes only (passing or enrolling TOTP, signing out):
    everything else uses :func:`resolve_session`. Bumps ``last_seen_at`` like it; the
    caller commits."""
    found = await _live_user(session, token)
    return None if found is None else found[0]


async def owes_second_factor(session: AsyncSession, token: str | None) -> bool:
    """True when the live session behind ``token`` still owes its second factor (its user
    must go to ``/security/totp``); False for a full, dead or missing session."""
    found = await _live_user(session, token)
    return found is not None and await _owes_second_factor(session, *found)


async def session_factor(session: AsyncSession, token: str | None) -> SessionFactor | None:
    """The ``session_factor`` row of the live session behind ``token``, if any."""
    row = await session_row(session, token)
    if row is None or row.id is None:
        return None
    return await session.get(SessionFactor, row.id)


async def end_session(session: AsyncSession, token: str | None) -> None:
    """Revoke the session behind ``token`` (no-op when unknown or already revoked).
    The caller commits."""
    if not plausible(token):
        return
    await session.exec(
        update(AuthSession)
        .where(col(AuthSession.token_hash) == token_hash(token))
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


async def sign_out_everywhere(session: AsyncSession, user_id: int) -> None:
    """Revoke every session of ``user_id``, this browser's included. The caller commits."""
    await end_all_sessions(session, user_id)
    log.info("signed out everywhere user_id=%s", user_id)


# --- for the web layer ----------------------------------------------------------------------


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
    states and routes that have a cookie value but no session at hand. ``None`` also for
    a session that still owes its second factor. Re-check it in every event handler;
    never trust a user id passed from the browser."""
    if not token:
        return None
    async with db.session() as s:
        user = await resolve_session(s, token)
        await s.commit()
        return user


# --- the session list -----------------------------------------------------------------------


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
            .where(col(AuthSession.last_seen_at) > now - SESSION_IDLE_TTL)
            .order_by(col(AuthSession.created_at).desc())
        )
    ).all()
    current_hash = token_hash(current_token) if current_token else None
    out: list[SessionInfo] = []
    for row in rows:
        factor = await session.get(SessionFactor, row.id)
        out.append(
            SessionInfo(
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                user_agent=row.user_agent or UNKNOWN_BROWSER,
                method=factor.method if factor else "password",
                current=row.token_hash == current_hash,
            )
        )
    return out
