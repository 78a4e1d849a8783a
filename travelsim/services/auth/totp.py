"""The TOTP second factor: secrets, codes, enrolment, verification, and who must pass it.

Staff always, and any user who set up TOTP, must pass a TOTP code (RFC 6238: SHA-1, 6
digits, 30 s, ±1 step of clock drift) after the password or provider sign-in. Staff without
a confirmed TOTP are sent to enrolment first. A code's time step is accepted at most once
(``user_totp.last_used_step``, compare-and-set). Passing it marks the session
(``session_factor.totp_verified_at``); failures are throttled like password sign-ins
(:mod:`travelsim.services.auth.throttling`). The secret is stored encrypted
(``keys.secret_box``). Functions work inside the caller's transaction and do not commit.

Until it is passed, the session is signed out for everything but the second-factor page:
``sessions.resolve_session`` applies the rule (``sessions.second_factor_required``, kept
there so that this module may import sessions and not the other way round).
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pyotp
import segno
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.keys import secret_box
from travelsim.models import SessionFactor, User, UserTotp, utcnow
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.sessions import second_factor_required, session_factor, session_row
from travelsim.services.auth.throttling import (
    KIND_TOTP,
    check_throttle,
    clear_failures,
    record_failure,
    totp_account,
)

log = logging.getLogger(__name__)

#: TOTP parameters (RFC 6238 defaults, what every authenticator app uses).
TOTP_DIGITS = 6
TOTP_PERIOD_SECONDS = 30
#: Accepted clock drift, in time steps either side of now.
TOTP_VALID_WINDOW = 1


# --- codes ----------------------------------------------------------------------------------


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


# --- who must pass it -----------------------------------------------------------------------


async def totp_of(session: AsyncSession, user_id: int) -> UserTotp | None:
    """The TOTP row of ``user_id`` (confirmed or pending), if any."""
    return await session.get(UserTotp, user_id)


async def needs_second_factor(session: AsyncSession, user: User, token: str | None) -> bool:
    """True when ``user`` must still pass (or enrol) TOTP in the session behind ``token``
    (``sessions.second_factor_required``, the rule ``sessions.resolve_session`` applies)."""
    assert user.id is not None
    if not second_factor_required(user, await totp_of(session, user.id)):
        return False
    factor = await session_factor(session, token)
    return factor is None or factor.totp_verified_at is None


def second_factor_path(next_path: str) -> str:
    """The page where a signed-in user passes (or sets up) the second factor:
    ``/security/totp``, with ``?next=<next_path, percent-encoded>`` unless it is ``/``."""
    return "/security/totp" + ("" if next_path == "/" else f"?next={quote(next_path, safe='')}")


# --- enrolment and verification -------------------------------------------------------------


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
    await clear_failures(session, kind=KIND_TOTP, account=account, address=address)
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
