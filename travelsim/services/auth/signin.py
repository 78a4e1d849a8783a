"""Password sign-in: who an email and password are, and where a sign-in may land.

Sign-in answers ``invalid_credentials`` for an unknown email and a wrong password alike,
after the same Argon2 work; ``unverified`` is only revealed to someone who knows the
password. Throttling is the caller's (``travelsim.routes.auth`` with
:mod:`travelsim.services.auth.throttling`), before this runs.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import User
from travelsim.services.auth.credentials import normalise_email, user_by_email
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.passwords import (
    PASSWORD_MAX_LENGTH,
    hash_password_async,
    needs_rehash,
    verify_against_dummy_async,
    verify_password_async,
)
from travelsim.services.auth.totp import needs_second_factor, second_factor_path

log = logging.getLogger(__name__)

#: Longest accepted ``next`` path, in characters.
MAX_NEXT_LENGTH = 1024


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with this email and password; rehashes the password (caller commits)
    when the Argon2 parameters changed.

    Raises :class:`AccountError`: ``invalid_credentials`` (malformed or unknown email,
    wrong password: the same Argon2 verification runs in every case), ``unverified``
    (right password, email not confirmed yet: offer
    :func:`~travelsim.services.auth.signup.resend_verification`).
    """
    if len(password) > PASSWORD_MAX_LENGTH:
        # Never longer than any stored password: refuse without hashing an unbounded input.
        raise AccountError("invalid_credentials")
    try:
        address = normalise_email(email)
    except AccountError:
        await verify_against_dummy_async(password)
        raise AccountError("invalid_credentials") from None
    user = await user_by_email(session, address)
    if user is None:
        await verify_against_dummy_async(password)
        raise AccountError("invalid_credentials")
    if not await verify_password_async(user.password_hash, password):
        log.info("sign-in refused user_id=%s reason=password", user.id)
        raise AccountError("invalid_credentials")
    if user.email_verified_at is None:
        raise AccountError("unverified")
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
        session.add(user)
        await session.flush()
        log.info("password rehashed user_id=%s", user.id)
    return user


async def after_signin_path(session: AsyncSession, user: User, token: str, next_path: str) -> str:
    """Where to send ``user`` right after signing in with ``token``: the second-factor page
    when one is required, else ``next_path``."""
    if await needs_second_factor(session, user, token):
        return second_factor_path(next_path)
    return next_path


def _unsafe_path(value: str) -> bool:
    """Not a plain same-site path: no leading ``/``, a leading ``//``, a backslash (browsers
    read ``/\\host`` as ``//host``) or a control character (``\\t`` and ``\\n`` are dropped
    by URL parsers, leaving ``//host``)."""
    return (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    )


def safe_next(value: str | None) -> str:
    """``value`` if it is a same-site relative path (``/…``, not ``//…`` nor ``/\\…``,
    no scheme, host, backslash or control character, at most :data:`MAX_NEXT_LENGTH`
    characters, and the same once percent-decoded: ``/%5Chost``, ``/%2F/host``,
    ``/%09/host`` are refused too), else ``"/"``. Every ``next`` from a browser (query,
    form, flow cookie) goes through it before anything redirects there
    (``tests/unit/test_next_checks.py`` holds every module to it)."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return "/"
    if _unsafe_path(value) or _unsafe_path(unquote(value)):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value
