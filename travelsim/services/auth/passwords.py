"""Password hashing: Argon2id (``argon2-cffi`` defaults), verification and rehash checks.

Passwords are never logged nor stored in clear; only the PHC string of the hash is kept.
What a password must look like is in :mod:`travelsim.services.auth.credentials`; the
length bounds live here because sign-in also refuses, before hashing, anything longer than
any stored password could be.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Password length bounds, in characters.
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


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


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches the PHC string ``stored_hash``; False for a wrong
    password or a malformed hash (never raises)."""
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_against_dummy(password: str) -> None:
    """Spend the same Argon2 work as :func:`verify_password` on a throwaway hash (for an
    unknown or malformed email, so timing reveals nothing)."""
    verify_password(_dummy_hash(), password)


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with other Argon2 parameters than today's."""
    return _hasher().check_needs_rehash(stored_hash)
