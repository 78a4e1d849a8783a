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
    app_env: Literal["demo", "test", "staging", "production"] = Field(
        "production",
        description="production (the default: unset fails closed), staging (production's "
        "rules with Stripe test keys and the SFT simulator on loopback: the rehearsal of "
        "going live), demo (`make demo`: the demo mailbox, seeded accounts, generated keys, "
        "loopback only) or test (the test suite). Start-up checks per mode: "
        "docs/architecture.md"
        "#security-modes-and-start-up-checks.",
    )
    demo_allow_lan: bool = Field(
        False,
        description="Demo/test only: accept a private LAN PUBLIC_URL (RFC 1918, e.g. "
        "http://192.168.1.20:3000) to try the install on a real phone; warns at start.",
    )
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="Local state (SQLite files, keys).")
    public_url: str = Field(
        "http://localhost:3000",
        description="Base URL travelers use. https:// makes every cookie Secure; production "
        "refuses plain http:// except on loopback.",
    )
    frontend_port: int = Field(
        3000, description="Port of the pages; `make demo PORT=N` sets it (and the next two)."
    )
    backend_port: int = Field(
        3000,
        description="Port of the backend (events, routes): the same port as the pages, since "
        "`reflex run --env prod` serves both on one port.",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text: one readable line per record; json: one JSON object per line "
        "with the request id and order id where known (docs/monitoring.md#logs).",
    )
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the portal that append to X-Forwarded-For "
        "(0: the header is ignored and the TCP peer is the client). Routes and Reflex "
        "handlers read the client address the same way (docs/architecture.md#rate-limits).",
    )
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
    sft_rate_limit_tps: float = Field(
        1.5,
        description="Requests per second this portal sends to SFT. Below the account's published "
        "default of 2 TPS, which every user of the account shares "
        "(docs/sft-platform.md#rate-limit).",
    )
    sft_timeout_seconds: float = 30.0
    sft_long_timeout_seconds: float = 180.0
    sft_addon_details_path: str = Field(
        "/api/GetEndpointAddonDetails",
        description="Path of Get Endpoint Add-on Details (not published: docs/sft-platform.md).",
    )
    sft_activation_call: Literal["lifecycle", "endpoint_activation"] = Field(
        "lifecycle",
        description="How a Pre-Active endpoint is activated: EndPointLifeCycleChange 'A' "
        "(default) or EndPointActivation.",
    )
    sft_platform_timezone: str = Field(
        "UTC", description="IANA zone of the platform's dd/mm/yyyy HH:MM:SS date-times."
    )

    # --- built-in simulator (used only when SFT_BASE_URL is unset) ---------------------
    sft_sim_db_path: Path | None = Field(None, description="Default DATA_DIR/sft_simulator.db.")
    sft_sim_seed_esims: int = Field(200, ge=0, le=10_000)
    sft_sim_rate_limit_tps: float = 2.0
    sft_sim_rating_delay_seconds: float = 0.0
    sft_sim_shapes: Literal["documented", "legacy"] = Field(
        "documented", description="Simulator answer shapes (docs/simulator.md#answer-shapes)."
    )

    # --- payments: Stripe (travelsim.stripe_config; docs/going-live.md#payments-stripe) --
    stripe_secret_key: SecretStr | None = Field(
        None,
        description="Stripe secret key (sk_live_/rk_live_ in production; sk_test_ to try "
        "Stripe test mode in demo). Unset in demo/test: the embedded localstripe.",
    )
    stripe_publishable_key: str | None = Field(
        None, description="Stripe publishable key (pk_live_ in production) for Stripe.js."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        description="Signing secret (whsec_...) of the webhook endpoint "
        "https://<host>/stripe/webhook; derived for the embedded localstripe.",
    )
    stripe_api_base: str | None = Field(
        None,
        description="Override of the Stripe API base URL (demo/test only, refused in "
        "production). Unset: https://api.stripe.com, or the embedded localstripe.",
    )
    stripe_js_url: str = Field(
        "https://js.stripe.com/v3/",
        description="Stripe.js the browser loads (the embedded localstripe serves its own).",
    )
    stripe_local_port: int = Field(
        8420,
        ge=1,
        le=65535,
        description="Loopback port of the embedded localstripe (demo/test without "
        "STRIPE_SECRET_KEY); the app starts it there unless something answers already.",
    )
    stripe_webhook_tolerance_seconds: int = Field(
        300,
        ge=1,
        description="Oldest webhook timestamp accepted (seconds; Stripe's libraries use 300).",
    )

    # --- commerce --------------------------------------------------------------------
    currencies: list[str] = Field(
        ["EUR", "USD", "GBP"],
        description="Currencies a traveler may choose (ISO 4217; prices are seller-set per "
        "currency, never converted: docs/i18n.md#currencies).",
    )
    checkout_reservation_minutes: int = 15
    checkout_ttl_minutes: int = Field(
        30,
        ge=1,
        description="An open checkout can be paid for this many minutes after it opened; "
        "then it expires and its eSIM goes back to the pool "
        "(docs/business-rules.md#checkout-expiry).",
    )
    max_open_checkouts: int = Field(
        2,
        ge=1,
        description="Open checkouts one traveler may hold at once, across plans "
        "(docs/business-rules.md#checkout-limits).",
    )
    checkout_start_rate_per_traveler: str = Field(
        "20/10 minutes",
        description="Checkout starts allowed per traveler (limits notation, e.g. 20/10 minutes).",
    )
    checkout_start_rate_per_address: str = Field(
        "60/10 minutes",
        description="Checkout starts allowed per client address (limits notation).",
    )
    pool_refill_interval_seconds: int = Field(
        60,
        ge=1,
        description="At most one eSIM pool refill from SFT per this many seconds when a "
        "checkout finds the pool empty, across workers (docs/business-rules.md#refill-debounce).",
    )
    seller_country: str = Field(
        "BE",
        pattern=r"^(AT|BE|BG|CY|CZ|DE|DK|EE|ES|FI|FR|GR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK)$",
        description="The seller's home EU member state (ISO alpha-2): its VAT rate applies "
        "when the customer's country is not established (docs/business-rules.md#vat-evidence). "
        "VAT_RATE_PERCENT is no longer read: rates are per country (/admin/tax).",
    )
    seller_name: str = "TravelSIM Demo Seller"
    seller_address: str = "Rue de l'Exemple 1, 1000 Brussels, Belgium"
    seller_vat_number: str = "BE0000000000"
    catalogue_seed_file: Path = Field(PROJECT_ROOT / "travelsim" / "seed" / "catalogue.json")
    devices_file: Path | None = Field(
        None,
        description="The seller's own list of eSIM-capable devices, merged over the shipped "
        "travelsim/seed/devices.json (docs/esim.md#device-compatibility); checked at start-up.",
    )
    content_dir: Path | None = Field(
        None,
        description="The seller's legal pages (terms, privacy, imprint, cookies) as Markdown, "
        "<dir>/<lang>/<page>.md, English required; unset: the shipped templates in "
        "travelsim/content (docs/legal.md#content-pages); checked at start-up.",
    )
    support_email: str = Field(
        "support@travelsim.local",
        description="Seller's support address shown to travelers (e.g. who gives eSIM "
        "confirmation codes), on pages and in emails; read at run time.",
    )
    support_url: str | None = Field(None, description="Optional support/help page URL.")
    support_phone: str | None = Field(None, description="Optional support phone number.")

    # --- email -----------------------------------------------------------------------
    smtp_host: str | None = Field(None, description="Unset: emails stay in the outbox table.")
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(
        False, description="Upgrade the connection with STARTTLS (submission port 587)."
    )
    smtp_tls: bool = Field(
        False, description="Implicit TLS from the first byte (port 465, RFC 8314)."
    )
    smtp_ca_file: Path | None = Field(
        None,
        description="PEM bundle of the CA(s) that sign the relay's certificate "
        "(default: the system's trust store). The certificate and its host name are always "
        "verified.",
    )
    mail_from: str = "TravelSIM <no-reply@travelsim.local>"

    # --- background work (travelsim.scheduler) -----------------------------------------
    scheduler_enabled: bool = Field(
        True, description="Run the background scheduler in this process (leader lease decides)."
    )
    scheduler_lease_seconds: float = Field(
        30.0, gt=0, description="Leader lease duration; a dead leader is replaced after this."
    )
    scheduler_lease_renew_seconds: float = Field(
        10.0, gt=0, description="How often the leader renews (and others try to take) the lease."
    )
    live_poll_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "An open eSIM page re-reads its figures at least this often; changes notified "
            "through services.live (Redis across workers) show at once."
        ),
    )
    sync_interval_seconds: float = Field(60.0, gt=0, description="Usage sync run interval.")
    sync_fill_fraction: float = Field(
        0.9, gt=0, le=1, description="Share of the interval a usage sync run may spend."
    )
    sync_viewed_seconds: float = Field(
        300.0, ge=0, description="An eSIM marked as viewed is synced first for this long."
    )
    sync_near_empty_percent: float = Field(
        80.0, ge=0, le=100, description="Percent used from which an add-on counts as near empty."
    )
    sync_near_expiry_hours: float = Field(
        24.0, ge=0, description="Hours left from which an add-on counts as near expiry."
    )
    catalogue_sync_interval_seconds: float = Field(3600.0, gt=0)
    inventory_sync_interval_seconds: float = Field(600.0, gt=0)
    low_stock_threshold: int = Field(
        20, ge=0, description="Staff are alerted when fewer free eSIMs than this remain."
    )
    staff_alert_email: str | None = Field(
        None, description="Staff alert recipient; unset: every staff account's address."
    )
    recovery_interval_seconds: float = Field(60.0, gt=0)
    reconciliation_interval_seconds: float = Field(
        86400.0, gt=0, description="How often Stripe, the books and SFT are compared."
    )
    reconciliation_window_days: int = Field(
        90, ge=1, description="Orders and PaymentIntents of this many days are compared."
    )
    recovery_paid_grace_seconds: float = Field(
        60.0, ge=0, description="A paid order untouched this long is resumed by recovery."
    )
    recovery_max_attempts: int = Field(
        3, ge=1, description="Provisioning runs of an order before it needs attention."
    )
    provisioning_retry_hours: float = Field(
        24.0,
        gt=0,
        description="Hours after its first transient failure during which an order is "
        "retried automatically before it needs attention (payment voided).",
    )
    notifications_interval_seconds: float = Field(300.0, gt=0)
    notify_data_percent: list[int] = Field(
        default_factory=lambda: [80, 100], description="Data-used thresholds (JSON list)."
    )
    notify_validity_hours: int = Field(24, ge=1, description="Validity ending within N hours.")
    notify_not_installed_days: int = Field(
        3, ge=1, description="Remind travelers who have not installed N days after purchase."
    )
    email_send_interval_seconds: float = Field(30.0, gt=0)
    callback_process_interval_seconds: float = Field(
        60.0, gt=0, description="Sweep of stored platform events left unprocessed."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus sends to GET /metrics (at least 32 characters, "
        "else start-up is refused); unset: /metrics answers 404 (demo/test: loopback only).",
    )
    sft_callback_token: SecretStr | None = Field(
        None,
        description="Token SFT sends with callbacks (at least 32 characters, else start-up "
        "is refused); unset: POST /callbacks/sft is off.",
    )

    # --- sign-in with an identity provider (OpenID Connect) ----------------------------
    oidc_issuer_url: str | None = Field(
        None,
        description="Issuer URL of the OIDC provider (discovery at "
        "<issuer>/.well-known/openid-configuration). Unset: no provider sign-in.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = Field("openid email profile", description="Space-separated scopes.")
    oidc_display_name: str = Field(
        "your company account", description='Shown on the button: "Sign in with <name>".'
    )

    # --- session security ------------------------------------------------------------
    signin_throttle_window_seconds: int = Field(
        900, gt=0, description="Window over which sign-in attempts are counted (seconds)."
    )
    signin_throttle_per_account: int = Field(
        5,
        ge=1,
        description="Attempts at one account from one client address within the window before "
        "that address is refused; failures from all addresses beyond it only delay attempts.",
    )
    signin_throttle_per_address: int = Field(
        20, ge=1, description="Attempts per client address (any account) within the window."
    )
    account_requests_per_address: int = Field(
        10,
        ge=1,
        description="Sign-ups, password-reset requests and verification resends (each) one "
        "client address may make per hour.",
    )
    account_requests_per_email: int = Field(
        3, ge=1, description="The same requests (each) for one target email per hour."
    )
    totp_issuer: str = Field("TravelSIM", description="Issuer name shown in authenticator apps.")
    password_reset_ttl_minutes: int = Field(
        60, ge=5, le=1440, description="Lifetime of a password reset link."
    )

    # --- derived ---------------------------------------------------------------------
    @property
    def oidc_enabled(self) -> bool:
        """True when an OIDC issuer and client id are configured."""
        return bool(self.oidc_issuer_url and self.oidc_client_id)

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
        """True when cookies carry ``Secure``: whenever ``PUBLIC_URL`` is ``https://`` (any
        mode), and always in production and staging (browsers keep ``Secure`` cookies on
        ``http://localhost``)."""
        return self.production_like or self.public_url.strip().lower().startswith("https://")

    @property
    def production_like(self) -> bool:
        """``production`` or ``staging`` (its rehearsal): keys only from the environment,
        no demo mailbox, seeded accounts or simulator controls."""
        return self.app_env in ("production", "staging")

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
