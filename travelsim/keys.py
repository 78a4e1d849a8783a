"""Process keys: the Fernet box that encrypts activation codes at rest, and the signing key.

``ENCRYPTION_KEY`` (comma-separated Fernet keys, the first encrypts) is required in
production. In ``demo``/``test`` a key is generated once into ``DATA_DIR/encryption.key``
(mode 0600) so the local demo needs no configuration.

``SECRET_KEY`` signs short-lived cookies and tokens (:func:`signing_key`, one derived key per
purpose); it is required in production and generated into ``DATA_DIR/signing.key`` in
``demo``/``test``.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

from travelsim.crypto import SecretBox, load_or_create_key
from travelsim.settings import Settings, get_settings


def build_secret_box(settings: Settings) -> SecretBox:
    """The :class:`SecretBox` for ``settings``; raises ``RuntimeError`` in production
    when ``ENCRYPTION_KEY`` is unset."""
    if settings.encryption_key is not None:
        return SecretBox.from_key_list(settings.encryption_key.get_secret_value())
    if settings.production_like:
        raise RuntimeError("ENCRYPTION_KEY must be set in production")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SecretBox([load_or_create_key(settings.data_dir / "encryption.key")])


@lru_cache(maxsize=1)
def secret_box() -> SecretBox:
    """The process-wide box (cached; tests call ``secret_box.cache_clear()``)."""
    return build_secret_box(get_settings())


def build_signing_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (e.g. ``"oidc-session"``): HMAC-SHA256 of the purpose
    under ``SECRET_KEY`` (or, in demo/test only, the key generated once into
    ``DATA_DIR/signing.key``). Distinct purposes never share a key. Raises ``RuntimeError``
    in production when ``SECRET_KEY`` is unset."""
    if settings.secret_key is not None:
        master = settings.secret_key.get_secret_value().encode()
    elif settings.production_like:
        raise RuntimeError("SECRET_KEY must be set in production")
    else:
        master = _generated_signing_key(settings.data_dir / "signing.key")
    return hmac.new(master, b"travelsim-key:" + purpose.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=4)
def _generated_signing_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    return load_or_create_key(path).encode()


def signing_key(purpose: str) -> bytes:
    """:func:`build_signing_key` for the process settings."""
    return build_signing_key(get_settings(), purpose)
