"""Typed settings, read only from the environment (and an optional ``.env`` file).

Every setting is listed in ``.env.example``. Nothing here is read while pages are
built: settings are resolved at runtime by services, routes and ``rxconfig.py``.

Database URLs: ``DATABASE_URL`` may be given in any of the usual spellings
(``postgres://``, ``postgresql://``, ``postgresql+psycopg://``, ``sqlite:///path``);
:attr:`Settings.sync_database_url` and :attr:`Settings.async_database_url` derive the
driver-qualified URLs consistently (psycopg 3 / asyncpg for PostgreSQL, pysqlite /
aiosqlite for SQLite) so sync code (Alembic) and async code (services) always talk to
the same database.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """The portal's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # --- application -----------------------------------------------------------------
    app_env: Literal["demo", "test", "production"] = Field(
        "demo", description="demo/test relax cookie security (plain HTTP on localhost)."
    )
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="Local state (SQLite files, keys).")
    public_url: str = Field("http://localhost:3000", description="Base URL travelers use.")
    frontend_port: int = 3000
    backend_port: int = 8000
    log_level: str = "INFO"
    secret_key: SecretStr | None = Field(
        None, description="Signs tokens; generated into DATA_DIR on first demo start if unset."
    )
    encryption_key: SecretStr | None = Field(
        None,
        description="Fernet key encrypting activation codes at rest; generated in demo if unset.",
    )

    # --- storage ---------------------------------------------------------------------
    database_url: str | None = Field(
        None, description="Portal database. Unset: SQLite file DATA_DIR/travelsim.db."
    )
    redis_url: str | None = Field(None, description="Redis for Reflex state (multi-worker).")

    # --- SFT platform ----------------------------------------------------------------
    sft_base_url: str | None = Field(
        None, description="Real SFT, e.g. https://sft.bics.com. Unset: the built-in simulator."
    )
    sft_username: str = "demo"
    sft_password: SecretStr = SecretStr("demo")
    sft_target_account_id: str | None = None
    sft_rate_limit_tps: float = Field(2.0, description="Account budget, requests per second.")
    sft_timeout_seconds: float = 30.0
    sft_long_timeout_seconds: float = 180.0

    # --- built-in simulator (used only when SFT_BASE_URL is unset) ---------------------
    sft_sim_db_path: Path | None = Field(None, description="Default DATA_DIR/sft_simulator.db.")
    sft_sim_seed_esims: int = Field(200, ge=0, le=10_000)
    sft_sim_rate_limit_tps: float = 2.0
    sft_sim_rating_delay_seconds: float = 0.0

    # --- commerce --------------------------------------------------------------------
    checkout_reservation_minutes: int = 15
    catalogue_seed_file: Path = Field(PROJECT_ROOT / "travelsim" / "seed" / "catalogue.json")

    # --- email -----------------------------------------------------------------------
    smtp_host: str | None = Field(None, description="Unset: emails stay in the outbox table.")
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "TravelSIM <no-reply@travelsim.local>"

    # --- derived ---------------------------------------------------------------------
    @property
    def uses_simulator(self) -> bool:
        """True when no SFT URL is configured: the built-in simulator serves the API."""
        return not self.sft_base_url

    @property
    def simulator_db_path(self) -> Path:
        return self.sft_sim_db_path or self.data_dir / "sft_simulator.db"

    @property
    def sync_database_url(self) -> str:
        """Driver-qualified URL for synchronous SQLAlchemy (Alembic, CLI)."""
        return _qualify(self._raw_database_url(), asynchronous=False)

    @property
    def async_database_url(self) -> str:
        """Driver-qualified URL for asyncio SQLAlchemy (services, handlers)."""
        return _qualify(self._raw_database_url(), asynchronous=True)

    @property
    def is_sqlite(self) -> bool:
        return self.sync_database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.app_env == "production"

    def _raw_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'travelsim.db').as_posix()}"


def _qualify(url: str, *, asynchronous: bool) -> str:
    """Return ``url`` with the driver this project uses for sync or async access.

    Raises ``ValueError`` for databases other than SQLite and PostgreSQL.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        driver = "asyncpg" if asynchronous else "psycopg"
    elif backend == "sqlite":
        driver = "aiosqlite" if asynchronous else "pysqlite"
    else:
        raise ValueError(f"unsupported database backend {backend!r}: use SQLite or PostgreSQL")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
