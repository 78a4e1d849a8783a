"""Password reset by emailed link.

A single-use link valid ``PASSWORD_RESET_TTL_MINUTES`` (60), emailed only to existing,
not deleted accounts. The answer on screen is always the same and so is the work behind it:
an unknown (or deleted) address gets one "no account uses this address" email instead, so
the response time does not tell them apart (docs/architecture.md#security-accounts-and-throttling);
how often is the route's (per address and per email). Setting the new password counts as
verifying the email, revokes every session of the account, every other outstanding reset
link and every verification link, and forgets the account's failed sign-ins. Functions work inside
the caller's transaction and do not commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import urls
from travelsim.models import EmailToken, User, utcnow
from travelsim.services.auth import account_emails, email_tokens
from travelsim.services.auth.credentials import (
    check_password_policy,
    is_deleted,
    normalise_email,
    user_by_email,
)
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import hash_password_async
from travelsim.services.auth.sessions import end_all_sessions
from travelsim.services.auth.throttling import KIND_PASSWORD, clear_failures
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)


def reset_ttl(settings: Settings | None = None) -> timedelta:
    """Lifetime of a password reset link (``PASSWORD_RESET_TTL_MINUTES``)."""
    return timedelta(minutes=(settings or get_settings()).password_reset_ttl_minutes)


async def request_password_reset(session: AsyncSession, email: str, base_url: str) -> None:
    """Email a reset link ``{base_url}/password/reset?token=…`` (single use, valid
    :func:`reset_ttl`) if ``email`` belongs to a (not deleted) account, else a "no account
    uses this address" note: one email for every well-formed address, so the work does not
    depend on whether it has an account. A malformed email queues nothing. The caller
    commits."""
    try:
        address = normalise_email(email)
    except AccountError:
        return
    user = await user_by_email(session, address)
    deleted = await is_deleted(session, user.id if user and user.id is not None else 0)
    if user is None or user.id is None or deleted:
        email_tokens.issue_decoy(session, "reset")
        await account_emails.send_no_account(session, address, base_url, kind="reset_no_account")
        await session.flush()
        return
    ttl = reset_ttl()
    raw = email_tokens.issue(session, user.id, "reset", ttl)
    await account_emails.send_password_reset(
        session, user, urls.reset_password(raw), base_url, minutes=int(ttl.total_seconds() // 60)
    )
    await session.flush()
    log.info("password reset sent user_id=%s", user.id)


async def _reset_user(session: AsyncSession, token: str) -> tuple[EmailToken, User]:
    """The usable reset row of ``token`` and its (not deleted) user."""
    row = await email_tokens.usable(session, token, "reset")
    if row.user_id is None:  # pragma: no cover - decoys are used at birth
        raise AccountError("reset_token_invalid")
    user = await session.get(User, row.user_id)
    if user is None or user.id is None or await is_deleted(session, row.user_id):
        raise AccountError("reset_token_invalid")
    return row, user


async def check_reset_token(session: AsyncSession, token: str) -> User:
    """The user a still-usable reset ``token`` belongs to (does not consume it). Raises
    :class:`AccountError` ``reset_token_invalid``, ``reset_token_used``,
    ``reset_token_expired``."""
    _row, user = await _reset_user(session, token)
    return user


async def reset_password(session: AsyncSession, token: str, new_password: str) -> User:
    """Consume the reset ``token`` and set ``new_password``: the email counts as verified
    (the link proved it), every session of the account and every other reset link is
    revoked (verification links too), and the account's failed sign-ins are forgotten.
    Returns the user; the caller starts a new session and commits. Raises :class:`AccountError` as
    :func:`check_reset_token` plus the password policy codes."""
    row, user = await _reset_user(session, token)
    assert user.id is not None
    check_password_policy(new_password, user.email)
    password_hash = await hash_password_async(new_password)
    now = utcnow()
    await email_tokens.consume(session, row, now)
    await email_tokens.consume_all(session, user.id, "reset", now)
    await email_tokens.consume_all(session, user.id, "verify", now)
    await email_tokens.discard_passwords(session, user.id)
    user.password_hash = password_hash
    if user.email_verified_at is None:
        user.email_verified_at = now
    session.add(user)
    await end_all_sessions(session, user.id)
    await clear_failures(session, kind=KIND_PASSWORD, account=user.email)
    await session.flush()
    log.info("password reset done user_id=%s", user.id)
    return user
