"""Single-use links sent by email (``email_token``): issue, look up, consume.

One mechanism for both purposes: ``verify`` (email verification, codes ``token_*``) and
``reset`` (password reset, codes ``reset_token_*``). A link carries the raw token; the row
keeps its SHA-256 (:mod:`travelsim.services.auth.tokens`), its purpose, when it was issued
and when it expires. Consuming is a compare-and-set on ``used_at``, so two clicks at once
use a link once. Functions work inside the caller's transaction and do not commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import EmailToken, utcnow
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.tokens import new_token, plausible, token_hash

Purpose = Literal["verify", "reset"]

#: No second email of one purpose (verification, "account exists", reset) to one user
#: within this delay.
RESEND_COOLDOWN = timedelta(minutes=1)

#: The error code prefix of each purpose: ``token_invalid`` / ``reset_token_invalid``, …
_CODE_PREFIX: dict[str, str] = {"verify": "token_", "reset": "reset_token_"}


def _refused(purpose: str, reason: str) -> AccountError:
    return AccountError(f"{_CODE_PREFIX[purpose]}{reason}")


def issue(
    session: AsyncSession,
    user_id: int,
    purpose: Purpose,
    ttl: timedelta,
    *,
    password_hash: str | None = None,
    flow_hash: str | None = None,
) -> str:
    """Add a new link token of ``purpose`` for ``user_id``, valid ``ttl`` from now (UTC);
    returns the raw token for the link. The caller flushes or commits.

    ``verify`` links of a sign-up also carry ``password_hash`` (the Argon2 PHC string of the
    password that sign-up chose, set when the link is used) and ``flow_hash`` (SHA-256 hex of
    the value in that sign-up's browser flow cookie, the only browser the link signs in)."""
    raw, digest = new_token()
    now = utcnow()
    session.add(
        EmailToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=digest,
            expires_at=now + ttl,
            created_at=now,
            password_hash=password_hash,
            flow_hash=flow_hash,
        )
    )
    return raw


def issue_decoy(session: AsyncSession, purpose: Purpose) -> None:
    """Add a token row of ``purpose`` for no account, used at birth (never usable): the
    database work of :func:`issue`, for a request about an address without an account."""
    _raw, digest = new_token()
    now = utcnow()
    session.add(
        EmailToken(
            user_id=None,
            purpose=purpose,
            token_hash=digest,
            expires_at=now,
            used_at=now,
            created_at=now,
        )
    )


async def issued_recently(session: AsyncSession, user_id: int, purpose: Purpose) -> bool:
    """True when a token of ``purpose`` was issued to ``user_id`` within
    :data:`RESEND_COOLDOWN`."""
    recent = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.user_id == user_id)
            .where(EmailToken.purpose == purpose)
            .where(col(EmailToken.created_at) > utcnow() - RESEND_COOLDOWN)
        )
    ).first()
    return recent is not None


async def usable(
    session: AsyncSession, token: str, purpose: Purpose, now: datetime | None = None
) -> EmailToken:
    """The row of a still-usable raw ``token`` of ``purpose`` (not consumed). Raises
    :class:`AccountError` ``<prefix>invalid`` (unknown, malformed, other purpose),
    ``<prefix>used`` or ``<prefix>expired`` (at ``now``, default the current UTC time),
    with prefix ``token_`` for ``verify`` and ``reset_token_`` for ``reset``."""
    if not plausible(token):
        raise _refused(purpose, "invalid")
    row = (
        await session.exec(
            select(EmailToken)
            .where(EmailToken.token_hash == token_hash(token))
            .where(EmailToken.purpose == purpose)
        )
    ).first()
    if row is None:
        raise _refused(purpose, "invalid")
    if row.used_at is not None:
        raise _refused(purpose, "used")
    if (now or utcnow()) >= row.expires_at:
        raise _refused(purpose, "expired")
    return row


async def consume(session: AsyncSession, row: EmailToken, now: datetime) -> None:
    """Mark ``row`` used at ``now`` unless someone did first (compare-and-set on
    ``used_at``); then raises :class:`AccountError` ``<prefix>used``."""
    result: Any = await session.exec(
        update(EmailToken)
        .where(col(EmailToken.id) == row.id)
        .where(col(EmailToken.used_at).is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise _refused(row.purpose, "used")


async def consume_all(session: AsyncSession, user_id: int, purpose: Purpose, now: datetime) -> None:
    """Mark every outstanding token of ``purpose`` of ``user_id`` used at ``now``."""
    await session.exec(
        update(EmailToken)
        .where(col(EmailToken.user_id) == user_id)
        .where(col(EmailToken.purpose) == purpose)
        .where(col(EmailToken.used_at).is_(None))
        .values(used_at=now)
    )


async def discard_passwords(session: AsyncSession, user_id: int) -> None:
    """Forget the pending password hash of every ``verify`` token of ``user_id`` (once the
    address is verified no sign-up's password may be set from them any more)."""
    await session.exec(
        update(EmailToken)
        .where(col(EmailToken.user_id) == user_id)
        .where(col(EmailToken.purpose) == "verify")
        .where(col(EmailToken.password_hash).is_not(None))
        .values(password_hash=None)
    )
