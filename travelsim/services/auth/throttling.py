"""Sign-in throttling: failed password sign-ins and second-factor codes (``login_attempt``).

Once ``SIGNIN_THROTTLE_PER_ACCOUNT`` (5) failures of an account, or
``SIGNIN_THROTTLE_PER_ADDRESS`` (20) failures from one client address, fall inside the last
``SIGNIN_THROTTLE_WINDOW_SECONDS`` (15 min), further attempts are refused with ``throttled``
*before* the credential is even checked (so a throttled guesser learns nothing). A success
clears its account's failures (not the address's). Functions work inside the caller's
transaction and do not commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import LoginAttempt, utcnow
from travelsim.services.auth.credentials import normalise_email
from travelsim.services.auth.errors import AccountError
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Kinds of throttled attempts.
KIND_PASSWORD = "password"
KIND_TOTP = "totp"


def throttle_account(raw_email: str) -> str:
    """The account key a sign-in attempt counts against: the normalised email, or for a
    malformed one its trimmed lower-case form (cut to 254 characters)."""
    try:
        return normalise_email(raw_email)
    except AccountError:
        return (raw_email or "").strip().lower()[:254]


def totp_account(user_id: int) -> str:
    """The account key of second-factor attempts of ``user_id``: ``"user:<id>"``."""
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
