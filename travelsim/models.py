"""SQLModel tables of the portal database (owned by Alembic: ``alembic/versions``).

Conventions: byte counts are ``BigInteger`` bytes; timestamps are timezone-aware UTC
(:class:`UTCDateTime` stores them naive-UTC on SQLite and ``timestamptz`` on PostgreSQL
and always returns aware UTC datetimes); money is an integer count of the currency's
minor units (cents) with an ISO 4217 code beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime column that only accepts aware datetimes and returns aware UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Plan(SQLModel, table=True):
    """An add-on plan of the catalogue.

    Platform fields (``sft_*``, volume, validity, activation) are synced from SFT's
    ``QueryRatePlan`` (docs/sft-platform.md#queryrateplan) and overwritten by every sync.
    Seller-owned fields (price, currency, display name, destinations, activation policy text,
    on-sale flag) are never touched by the sync. A plan without a price can never be on sale
    (database check constraint).
    """

    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(
            "NOT on_sale OR (price_minor IS NOT NULL AND currency IS NOT NULL)",
            name="ck_plan_price_required_on_sale",
        ),
        CheckConstraint("price_minor IS NULL OR price_minor >= 0", name="ck_plan_price_nonneg"),
    )

    plan_id: str = Field(primary_key=True, max_length=32, description="SFT planId (addonId)")
    sft_name: str = Field(max_length=200)
    sft_status: str = Field(default="Active", max_length=32)
    volume_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    validity_days: int
    activated_by: str = Field(max_length=16, description="'immediate' or 'on_usage'")
    priority: int = 1
    rate_zone: str | None = Field(default=None, max_length=200)
    sft_countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    present_on_platform: bool = True
    synced_at: datetime | None = utc_column()

    display_name: str | None = Field(default=None, max_length=200)
    price_minor: int | None = Field(default=None, description="Retail price in minor units")
    currency: str | None = Field(default=None, max_length=3, description="ISO 4217 code")
    destinations: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="ISO 3166-1 alpha-2 codes the seller sells this plan for",
    )
    region: str | None = Field(default=None, max_length=100, description="e.g. Europe, Global")
    activation_policy: str | None = Field(default=None, max_length=500)
    on_sale: bool = False
    updated_at: datetime | None = utc_column()

    @property
    def sellable(self) -> bool:
        """On sale, priced, active on the platform and still present there."""
        return (
            self.on_sale
            and self.price_minor is not None
            and self.currency is not None
            and self.present_on_platform
            and self.sft_status.lower() == "active"
        )


# --- accounts -----------------------------------------------------------------------------


class User(SQLModel, table=True):
    """A traveler (or staff member). ``email`` is stored normalised (lower-case)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255, repr=False)
    email_verified_at: datetime | None = utc_column()
    is_staff: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class EmailToken(SQLModel, table=True):
    """A single-use, expiring token sent by email (verification, password reset).
    Only the SHA-256 of the token is stored."""

    __tablename__ = "email_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    purpose: str = Field(max_length=16, description="'verify' or 'reset'")
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class AuthSession(SQLModel, table=True):
    """A signed-in browser session behind the HttpOnly cookie. The cookie holds a random
    token; only its SHA-256 is stored here."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = utc_column()
    user_agent: str | None = Field(default=None, max_length=300)


# --- inventory ----------------------------------------------------------------------------


class Esim(SQLModel, table=True):
    """An eSIM of the seller's SFT inventory, mirrored locally.

    ``state``: ``free`` (pre-active on SFT, nobody's), ``reserved`` (held exclusively for
    one checkout until ``reserved_until``), ``assigned`` (sold: belongs to ``user_id``
    for good; never handed to anyone else), ``retired``. Exclusivity comes from a
    compare-and-set update on ``state`` in this database, never from SFT's "first free SIM".
    The activation code (``LPA:1$…``) is stored encrypted (``activation_code_enc``).
    """

    __tablename__ = "esim"
    __table_args__ = (
        CheckConstraint(
            "state IN ('free', 'reserved', 'assigned', 'retired')", name="ck_esim_state"
        ),
        CheckConstraint(
            "state != 'assigned' OR user_id IS NOT NULL", name="ck_esim_assigned_has_owner"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    iccid: str = Field(max_length=22, unique=True, index=True)
    eid: str | None = Field(default=None, max_length=32)
    endpoint_id: str = Field(max_length=32, unique=True, index=True)
    state: str = Field(default="free", max_length=16, index=True)
    checkout_id: str | None = Field(default=None, max_length=36, index=True)
    reserved_until: datetime | None = utc_column()
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    nickname: str | None = Field(default=None, max_length=60)
    destination: str | None = Field(default=None, max_length=2)
    activation_code_enc: str | None = Field(default=None, repr=False)
    confirmation_code_required: bool = False
    endpoint_status: str | None = Field(default=None, max_length=32)
    profile_status: str | None = Field(default=None, max_length=32)
    assigned_at: datetime | None = utc_column()
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


# --- commerce -----------------------------------------------------------------------------


class Checkout(SQLModel, table=True):
    """One purchase attempt. Its ``id`` is the idempotency key of everything after it:
    one checkout → at most one successful payment → at most one order.

    ``status``: ``open`` → ``paid`` (order created) or ``expired`` / ``cancelled`` /
    ``sold_out``. ``kind``: ``new_esim`` or ``topup`` (``esim_id`` given).
    """

    __tablename__ = "checkout"

    id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    plan_id: str = Field(foreign_key="plan.plan_id", max_length=32)
    kind: str = Field(default="new_esim", max_length=16)
    esim_id: int | None = Field(default=None, foreign_key="esim.id")
    destination: str | None = Field(default=None, max_length=2)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(default="open", max_length=16, index=True)
    device_confirmed: bool = False
    reserved_until: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Payment(SQLModel, table=True):
    """A card payment through a provider. ``idempotency_key`` (the checkout id) is unique:
    retries return the same payment instead of charging again.

    ``status``: ``requires_action`` (second step pending), ``succeeded``, ``declined``,
    ``voided`` (authorisation released / refunded before capture), ``refunded``,
    ``flagged`` (needs a human).
    """

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    checkout_id: str = Field(foreign_key="checkout.id", max_length=36, index=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    provider: str = Field(max_length=32)
    provider_ref: str | None = Field(default=None, max_length=64, index=True)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20, index=True)
    card_last4: str | None = Field(default=None, max_length=4)
    failure_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Order(SQLModel, table=True):
    """A paid purchase and its provisioning.

    ``status``: ``paid`` → ``provisioning`` → ``delivered``, or ``needs_attention`` (a step
    could not complete; payment voided or flagged). ``addon_unique_id`` is the SFT add-on
    instance (``uniqueId``) subscribed for this order.

    Automatic retry after a transient platform fault (``services.provisioning``): the order
    goes back to ``paid`` with ``retry_count`` (retries scheduled so far), ``first_failed_at``
    (UTC, start of the retry window) and ``next_attempt_at`` (UTC, when the recovery job may
    run it again; ``None`` when no retry is waiting).
    """

    __tablename__ = "purchase_order"

    id: str = Field(primary_key=True, max_length=36)
    reference: str = Field(max_length=16, unique=True, description="Shown to travelers")
    checkout_id: str = Field(foreign_key="checkout.id", max_length=36, unique=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    plan_id: str = Field(foreign_key="plan.plan_id", max_length=32)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    payment_id: int = Field(foreign_key="payment.id")
    kind: str = Field(default="new_esim", max_length=16)
    status: str = Field(default="paid", max_length=20, index=True)
    amount_minor: int
    tax_minor: int = 0
    currency: str = Field(max_length=3)
    addon_unique_id: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    retry_count: int = 0
    first_failed_at: datetime | None = utc_column()
    next_attempt_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    delivered_at: datetime | None = utc_column()


class ProvisioningStep(SQLModel, table=True):
    """One persisted step of an order's provisioning (``activate``, ``subscribe``,
    ``fetch_code``, ``deliver``). ``status``: ``pending``, ``running``, ``done``, ``failed``."""

    __tablename__ = "provisioning_step"
    __table_args__ = (UniqueConstraint("order_id", "name", name="uq_step_order_name"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="purchase_order.id", max_length=36, index=True)
    seq: int
    name: str = Field(max_length=20)
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    detail: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=500)
    started_at: datetime | None = utc_column()
    finished_at: datetime | None = utc_column()


class OutboxEmail(SQLModel, table=True):
    """An email to send. Without SMTP configured it simply stays here (``queued``);
    with SMTP, a sender delivers it (``sent``) with bounded retries (``failed``)."""

    __tablename__ = "outbox_email"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=32, index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body_text: str
    body_html: str | None = None
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="queued", max_length=12, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = utc_column()


# --- usage figures ("My eSIMs") -----------------------------------------------------------


class EsimAddon(SQLModel, table=True):
    """One SFT add-on instance (``uniqueId``) on an eSIM, mirrored from Get Endpoint Add-on
    Details (docs/sft-platform.md#get-endpoint-add-on-details) by ``services.usage.sync_esims``.

    ``status``: ``waiting`` (subscribed, validity not started: wire "Subscribed"),
    ``active``, ``used_up`` (wire "Exhausted"), ``expired``, ``deactivated`` or ``unknown``
    (a status the portal does not know, or an instance the platform no longer lists).
    ``activated_by``: ``immediate`` / ``on_usage`` / ``None`` (not reported). Volumes are
    bytes; ``None`` means unknown (never read as 0). ``started_at``/``expires_at`` come from the
    platform (never derived locally), ``None`` until validity starts. ``figures_at`` is when the
    figures stored in this row were read from the platform (the row is rewritten only when
    they change; ``EsimSync.synced_at`` says until when they were confirmed).
    """

    __tablename__ = "esim_addon"
    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting', 'active', 'used_up', 'expired', 'deactivated', 'unknown')",
            name="ck_esim_addon_status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    unique_id: str = Field(max_length=32, unique=True, description="SFT add-on uniqueId")
    plan_id: str = Field(max_length=32, description="SFT planId (addonId)")
    plan_name: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=16)
    activated_by: str | None = Field(default=None, max_length=16)
    priority: int | None = None
    validity_days: int | None = None
    subscribed_at: datetime | None = utc_column()
    started_at: datetime | None = utc_column()
    expires_at: datetime | None = utc_column()
    initial_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    remaining_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    used_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    figures_at: datetime | None = utc_column()
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class UsageDay(SQLModel, table=True):
    """Rated data usage of one eSIM on one UTC day (GetStatistics ``dataUsage[]``,
    docs/sft-platform.md#getstatistics; bytes converted from MB with 1 MB = 1,048,576 B). A missing
    day inside a synced window means no rated usage that day."""

    __tablename__ = "usage_day"
    __table_args__ = (UniqueConstraint("esim_id", "day", name="uq_usage_day_esim_day"),)

    id: int | None = Field(default=None, primary_key=True)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    day: date
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReplacementRequest(SQLModel, table=True):
    """A traveler's request for a replacement eSIM when the profile was used or broke
    (docs/esim.md#f1-code-already-used, docs/esim.md#f2-download-failed). ``status``: ``open``
    → ``closed`` (by staff)."""

    __tablename__ = "replacement_request"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="ck_replacement_request_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    reason: str = Field(max_length=500)
    status: str = Field(default="open", max_length=12, index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    closed_at: datetime | None = utc_column()


class EsimSync(SQLModel, table=True):
    """Per-eSIM state of the usage sync (one row per eSIM, created by the first sync or the
    first manual refresh).

    ``synced_at``: last successful full read of the platform (add-on details, profile,
    statistics), i.e. until when the stored figures are known to be the platform's.
    ``attempted_at``: last attempt, successful or not; ``last_error``: why the last attempt
    failed (``None`` after a success). ``endpoint_status`` / ``lifecycle_reason`` /
    ``profile_status``: as GetEndPointProfile last reported them
    (docs/sft-platform.md#getendpointprofile; lifecycle reason "1" System, "2" Dunning, "3" CSR,
    ``None`` if never suspended).
    ``refresh_requested_at``: last accepted manual refresh (the cool-down runs from it).
    """

    __tablename__ = "esim_sync"

    esim_id: int = Field(foreign_key="esim.id", primary_key=True)
    synced_at: datetime | None = utc_column()
    attempted_at: datetime | None = utc_column()
    endpoint_status: str | None = Field(default=None, max_length=32)
    lifecycle_reason: str | None = Field(default=None, max_length=8)
    profile_status: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    refresh_requested_at: datetime | None = utc_column()


# --- background work (scheduler, notifications, platform callbacks) -----------------------


class SchedulerLease(SQLModel, table=True):
    """The leader lease of the background scheduler (``travelsim.scheduler``).

    One row per lease ``name`` (``"scheduler"``). ``holder`` is the id of the scheduler
    instance that runs the jobs until ``expires_at``; it renews the row well before then. Any
    other instance takes the lease over with a compare-and-set once ``expires_at`` has passed
    (the holder died or lost the database), so a take-over happens within one lease duration
    plus one renewal tick.
    """

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    renewed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JobRun(SQLModel, table=True):
    """One run of a background job (``job``: ``usage_sync``, ``catalogue``, ``inventory``,
    ``recovery``, ``notifications``, ``email``, ``callbacks``), for the admin page.

    ``calls``: SFT requests the run sent (logins and 429 resends included); ``errors``: items
    that failed (eSIMs not synced, orders escalated, ...); ``rate_limited``: HTTP 429 answers
    seen; ``items``: items handled (eSIMs synced, emails sent, ...);
    ``oldest_figure_age_seconds``: for ``usage_sync``, age at the end of the run of the oldest
    "last synced" among eSIMs with a live add-on (``None`` if none). ``ok`` is False when the
    run itself raised (``error`` holds the exception type and message).
    """

    __tablename__ = "job_run"

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32, index=True)
    holder: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    finished_at: datetime | None = utc_column()
    duration_ms: int | None = None
    ok: bool = True
    error: str | None = Field(default=None, max_length=500)
    calls: int = 0
    errors: int = 0
    rate_limited: int = 0
    items: int = 0
    oldest_figure_age_seconds: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Notification(SQLModel, table=True):
    """A notice to a traveler (listed in the portal; emailed unless they unsubscribed).

    Unique per (eSIM, add-on, kind, threshold), so each notice exists at most once, across
    restarts and workers. ``kind``: ``data_used`` (``threshold`` = percent used, e.g. 80 or
    100), ``validity_ending`` (``threshold`` = hours left, e.g. 24), ``not_installed``
    (``threshold`` = days since purchase; ``addon_unique_id`` is ``""`` for eSIM-level
    notices). ``email_id`` is the queued ``OutboxEmail`` (``None`` when not emailed).
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint(
            "esim_id", "addon_unique_id", "kind", "threshold", name="uq_notification_once"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    esim_id: int = Field(foreign_key="esim.id", index=True)
    addon_unique_id: str = Field(default="", max_length=32)
    kind: str = Field(max_length=32)
    threshold: int
    title: str = Field(max_length=200)
    body: str = Field(max_length=1000)
    email_id: int | None = Field(default=None, foreign_key="outbox_email.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    read_at: datetime | None = utc_column()


class NotificationOptOut(SQLModel, table=True):
    """A traveler who unsubscribed from notification emails (usage alerts and reminders)
    through the signed link in those emails. In-portal notices continue."""

    __tablename__ = "notification_opt_out"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class StaffAlert(SQLModel, table=True):
    """A staff alert condition (``key``, e.g. ``low_stock``) that is currently raised.

    The row exists while the condition holds; the alert email is sent when it is inserted and
    the row is deleted when the condition clears, so staff get one email per crossing.
    """

    __tablename__ = "staff_alert"

    key: str = Field(primary_key=True, max_length=32)
    raised_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: str | None = Field(default=None, max_length=500)


class CallbackEvent(SQLModel, table=True):
    """One event pushed by the platform (docs/sft-platform.md#callbacks), stored raw before
    processing.

    ``dedupe_key`` (SHA-256 of the notification's ``callbackId`` and message) is unique: a
    duplicate delivery is stored once. ``status``: ``pending`` → ``processed`` (applied, or
    already superseded by newer figures) or ``ignored`` (unknown endpoint or event type) or
    ``failed`` (``error``). ``event_at`` is the platform's timestamp of the event (its clock),
    ``seq`` its sequence number when the platform gives one.
    """

    __tablename__ = "callback_event"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=64)
    endpoint_id: str | None = Field(default=None, max_length=32, index=True)
    esim_id: int | None = Field(default=None, foreign_key="esim.id", index=True)
    unique_id: str | None = Field(default=None, max_length=32)
    event_at: datetime | None = utc_column()
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=12, index=True)
    error: str | None = Field(default=None, max_length=500)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    processed_at: datetime | None = utc_column()


# --- sign-in with an identity provider, session security, privacy ------------------------


class OidcIdentity(SQLModel, table=True):
    """A provider account (OpenID Connect ``iss`` + ``sub``) linked to a portal user.

    Created on the first provider sign-in: either with a new user (provider email verified,
    no account with that email yet) or linked to the existing user of that email, only when
    both the provider and the portal have that email verified. ``email`` is the provider's
    address at the last sign-in (informative: identity is ``issuer`` + ``subject``).
    """

    __tablename__ = "oidc_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_oidc_identity_issuer_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    email: str | None = Field(default=None, max_length=254)
    linked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_signin_at: datetime | None = utc_column()


class LoginAttempt(SQLModel, table=True):
    """A failed credential check, for throttling (``services.security``).

    ``kind``: ``password`` (sign-in) or ``totp`` (second factor). ``account``: the normalised
    email tried (``password``) or ``user:<id>`` (``totp``). ``address``: the client address.
    Rows older than the throttle window are pruned.
    """

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    account: str = Field(max_length=254, index=True)
    address: str = Field(max_length=64, index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


class UserTotp(SQLModel, table=True):
    """A user's TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps).

    ``secret_enc``: the base32 secret encrypted with ``travelsim.keys.secret_box()``.
    ``confirmed_at``: ``None`` while enrolment waits for a first correct code.
    ``last_used_step``: the 30-second time step of the last accepted code; a code of that
    step or an earlier one is refused (no replay).
    """

    __tablename__ = "user_totp"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    secret_enc: str = Field(repr=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    confirmed_at: datetime | None = utc_column()
    last_used_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class SessionFactor(SQLModel, table=True):
    """How an ``auth_session`` was established, beside it (one row per session).

    ``method``: ``password``, ``oidc``, ``email_link`` (verification link) or ``reset``
    (password reset). ``totp_verified_at``: when the second factor was passed in this session
    (staff sessions are "full" only then). ``oidc_identity_id`` / ``id_token_enc`` (the ID
    token, encrypted, for the provider's end-session ``id_token_hint``): provider sessions.
    """

    __tablename__ = "session_factor"

    session_id: int = Field(foreign_key="auth_session.id", primary_key=True)
    method: str = Field(max_length=16)
    oidc_identity_id: int | None = Field(default=None, foreign_key="oidc_identity.id")
    id_token_enc: str | None = Field(default=None, repr=False)
    totp_verified_at: datetime | None = utc_column()


class AccountDeletion(SQLModel, table=True):
    """An account deleted at its owner's request (``services.privacy``).

    The ``app_user`` row stays as an anonymised tombstone (checkouts and payments kept for
    accounting still reference it); this row records when it happened and what was done.
    """

    __tablename__ = "account_deletion"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    deleted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    esims_suspended: int = 0
    orders_detached: int = 0


# --- staff admin ----------------------------------------------------------------------------


class AuditLog(SQLModel, table=True):
    """One staff action (``services.admin``): who, when, what, on what, and how it ended.

    Append-only: the application has no code path that updates or deletes a row, and the
    database refuses both (triggers added by migration 0006 on SQLite and PostgreSQL).
    ``actor_user_id`` is ``None`` for actions from the command line or the demo seed, which
    ``actor`` names (``cli``, ``seed``); otherwise ``actor`` is the staff member's email at
    the time. ``action``: dotted name (``order.refund``, ``esim.suspend``, ``staff.grant``,
    ...). ``target_type`` / ``target_id``: ``order`` + order id, ``esim`` + eSIM id, ``plan`` +
    plan id, ``user`` + email, ``simulator`` + endpoint id. ``result``: ``ok``, ``refused``
    (a rule said no: ``detail`` says which) or ``failed`` (an error: ``detail`` says which).
    ``detail`` never holds secrets (no activation codes, tokens or card data).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("result IN ('ok', 'refused', 'failed')", name="ck_audit_log_result"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=40, index=True)
    target_type: str = Field(max_length=20)
    target_id: str = Field(max_length=64, index=True)
    result: str = Field(max_length=8)
    detail: str = Field(default="", max_length=1000)


class EsimReplacement(SQLModel, table=True):
    """A replacement eSIM given by staff for ``old_esim_id`` (docs/business-rules.md#replacement).

    One per old eSIM (unique): pressing "replace" twice never hands out two eSIMs.
    ``plan_ids``: the plans of the add-ons still live on the old eSIM, each subscribed anew
    on the new one (``order_ids``: the zero-amount staff orders that provision them, the
    first one a ``new_esim`` order). ``status``: ``provisioning`` → ``done`` (new eSIM
    delivered, old endpoint suspended) or ``failed`` (``detail``; the orders stay visible
    and can be retried).
    """

    __tablename__ = "esim_replacement"
    __table_args__ = (
        CheckConstraint(
            "status IN ('provisioning', 'done', 'failed')", name="ck_esim_replacement_status"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    old_esim_id: int = Field(foreign_key="esim.id", unique=True)
    new_esim_id: int | None = Field(default=None, foreign_key="esim.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    staff_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    plan_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    order_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="provisioning", max_length=16)
    detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finished_at: datetime | None = utc_column()
