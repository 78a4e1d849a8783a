"""Encryption at rest for secrets such as activation codes (docs/esim.md#secrets).

:class:`SecretBox` wraps ``cryptography.fernet.MultiFernet``: AES-128-CBC with HMAC-SHA256,
authenticated, with a timestamp (Fernet spec, https://github.com/fernet/spec). Key rotation:
the first key encrypts, every key decrypts; :meth:`SecretBox.rotate` re-encrypts an old token
under the first key.

Keys are URL-safe base64 strings of 32 random bytes, as produced by :func:`generate_key`.
Production keys come from the environment (settings); :func:`load_or_create_key` is for the
local demo only.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = [
    "DecryptionError",
    "SecretBox",
    "generate_key",
    "load_or_create_key",
]

logger = logging.getLogger(__name__)


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: tampered, truncated, or under an unknown key."""


def generate_key() -> str:
    """Return a new random Fernet key: URL-safe base64 of 32 bytes, 44 ASCII characters."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str | bytes) -> Fernet:
    """Build a ``Fernet`` from one key; ``ValueError`` if it is not a valid Fernet key."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    try:
        return Fernet(raw.strip())
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError(
            "invalid encryption key: expected URL-safe base64 of 32 bytes (generate_key())"
        ) from exc


class SecretBox:
    """Authenticated symmetric encryption of short strings with key rotation.

    Args:
        keys: one or more Fernet keys (``str`` or ``bytes``), newest first. The first key
            encrypts; all keys are tried for decryption.

    Raises:
        ValueError: if ``keys`` is empty or a key is malformed (the key is not echoed).
    """

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        fernets = [_fernet(k) for k in keys]
        if not fernets:
            raise ValueError("SecretBox needs at least one key")
        self._fernets = fernets
        self._multi = MultiFernet(fernets)

    @classmethod
    def from_key_list(cls, keys: str) -> SecretBox:
        """Build from a comma-separated key list (as kept in one environment variable).

        Args:
            keys: ``"<newest key>,<older key>,..."``; blanks around commas are ignored.

        Raises:
            ValueError: if no key is given or a key is malformed.
        """
        return cls([k.strip() for k in keys.split(",") if k.strip()])

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` (UTF-8) under the first key.

        Returns:
            A Fernet token: URL-safe base64 ASCII text, safe for a ``TEXT`` column. A fresh IV
            makes two encryptions of the same plaintext differ.

        Raises:
            TypeError: if ``plaintext`` is not a ``str``.
        """
        if not isinstance(plaintext, str):
            raise TypeError("SecretBox.encrypt expects a str")
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by :meth:`encrypt` under any of the keys.

        Returns:
            The original plaintext.

        Raises:
            DecryptionError: if the token was tampered with, is malformed, or was made under a
                key this box does not hold. The message does not include the token.
        """
        try:
            raw = token.encode("ascii")
            return self._multi.decrypt(raw).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError, TypeError) as exc:
            raise DecryptionError(
                "ciphertext could not be decrypted (tampered, truncated, or unknown key)"
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the first key (for a key-rotation sweep).

        Returns:
            A new token for the same plaintext, made under the first key.

        Raises:
            DecryptionError: as :meth:`decrypt`.
        """
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, AttributeError, TypeError) as exc:
            raise DecryptionError(
                "ciphertext could not be rotated (tampered, truncated, or unknown key)"
            ) from exc

    def key_index(self, token: str) -> int | None:
        """Which key opens ``token``: ``0`` for the first (newest) key, ``1`` for the next, …;
        ``None`` when none does (tampered, truncated, or made under a key not held). Used by
        the key-rotation sweep (``services.key_rotation``) to skip values already current."""
        try:
            raw = token.encode("ascii")
        except (UnicodeError, AttributeError):
            return None
        for index, fernet in enumerate(self._fernets):
            try:
                fernet.decrypt(raw)
            except InvalidToken:
                continue
            return index
        return None

    def __repr__(self) -> str:
        """Never reveals keys."""
        return "SecretBox(<keys hidden>)"


def load_or_create_key(path: Path) -> str:
    """Read the demo encryption key from ``path``, creating it if missing (local demo only).

    A new file is created atomically (private temp file, then ``link(2)``) with mode ``0600``;
    its parent directory is created if needed. If two processes race, the loser reads the
    winner's key. An existing file readable by group or others is used but logged as a warning.

    Args:
        path: key file location, e.g. ``Path("data/secret.key")``.

    Returns:
        The key (44 ASCII characters, no trailing newline).

    Raises:
        ValueError: if the existing file does not hold a valid Fernet key.
        OSError: if the file cannot be read or created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = generate_key()
        # Write a complete private temp file, then publish it with link(2), which fails if the
        # target exists: no reader ever sees a partial key, and a racing creator never wins twice.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # independent of the umask
                os.write(fd, (key + "\n").encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: read theirs below
        else:
            return key
        finally:
            tmp.unlink(missing_ok=True)

    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "encryption key file is readable by group or others",
            extra={"path": str(path), "mode": oct(mode)},
        )
    existing = path.read_text(encoding="ascii").strip()
    _fernet(existing)  # validate
    return existing
