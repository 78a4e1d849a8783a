"""Secret tokens (session cookies, email links): how they are made and how they are stored.

A token is ``secrets.token_urlsafe(32)`` (256 random bits, 43 URL-safe characters). Only its
SHA-256 (hex) is stored, so a copy of the database opens no session and no link. Tokens are
never logged.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TypeGuard

#: Longer presented tokens are refused without a lookup (real ones are 43 characters).
MAX_TOKEN_LENGTH = 200


def token_hash(token: str) -> str:
    """The stored form of a raw ``token``: its SHA-256, 64 hex characters."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(raw, sha256 hex)`` pair: ``raw`` goes to the browser or the email,
    the hash to the database."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def plausible(token: str | None) -> TypeGuard[str]:
    """False for a missing, empty or over-long (> :data:`MAX_TOKEN_LENGTH`) token, which is
    refused without touching the database."""
    return bool(token) and len(token or "") <= MAX_TOKEN_LENGTH
