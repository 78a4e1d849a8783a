"""Password hashing: Argon2id (``argon2-cffi`` defaults), verification and rehash checks.

Passwords are never logged nor stored in clear; only the PHC string of the hash is kept.
What a password must look like is in :mod:`travelsim.services.auth.credentials`; the
length bounds live here because sign-in also refuses, before hashing, anything longer than
any stored password could be.

Argon2 costs 100 to 300 ms of CPU per hash or verification: the ``*_async`` functions run it
in a small thread pool of this module (argon2-cffi releases the GIL while hashing) so the
event loop, and every websocket of the worker, keeps running meanwhile. The pool has one
thread less than the machine has CPUs (at least one), so the loop always keeps a core
(docs/architecture.md#security-accounts-and-throttling). The synchronous functions are for
command-line tools and tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_T = TypeVar("_T")

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


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """The threads Argon2 runs in: one less than the CPUs, at least one."""
    workers = max(1, (os.cpu_count() or 2) - 1)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")


async def _off_loop(fn: Callable[..., _T], *args: str) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)


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


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in Argon2's thread pool (the event loop keeps running)."""
    return await _off_loop(hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    """:func:`verify_password` in Argon2's thread pool (the event loop keeps running)."""
    return await _off_loop(verify_password, stored_hash, password)


async def verify_against_dummy_async(password: str) -> None:
    """:func:`verify_against_dummy` in Argon2's thread pool (the event loop keeps running)."""
    await _off_loop(verify_against_dummy, password)
