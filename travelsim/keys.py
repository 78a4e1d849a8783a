"""Process keys: the Fernet box that encrypts activation codes at rest.

``ENCRYPTION_KEY`` (comma-separated Fernet keys, the first encrypts) is required in
production. In ``demo``/``test`` a key is generated once into ``DATA_DIR/encryption.key``
(mode 0600) so the local demo needs no configuration.
"""

from __future__ import annotations

from functools import lru_cache

from travelsim.crypto import SecretBox, load_or_create_key
from travelsim.settings import Settings, get_settings


def build_secret_box(settings: Settings) -> SecretBox:
    """The :class:`SecretBox` for ``settings``; raises ``RuntimeError`` in production
    when ``ENCRYPTION_KEY`` is unset."""
    if settings.encryption_key is not None:
        return SecretBox.from_key_list(settings.encryption_key.get_secret_value())
    if settings.app_env == "production":
        raise RuntimeError("ENCRYPTION_KEY must be set in production")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SecretBox([load_or_create_key(settings.data_dir / "encryption.key")])


@lru_cache(maxsize=1)
def secret_box() -> SecretBox:
    """The process-wide box (cached; tests call ``secret_box.cache_clear()``)."""
    return build_secret_box(get_settings())
