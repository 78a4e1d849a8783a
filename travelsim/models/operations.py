"""Background and staff records: the email outbox, the scheduler lease and job runs,
notifications, staff alerts, platform callback events and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow
from travelsim.models.statuses import CallbackStatus, OutboxStatus


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
    #: The language the email is written in (one of ``travelsim.i18n.LOCALES``), decided when
    #: it is queued and sent as its ``Content-Language`` (docs/i18n.md#emails).
    locale: str = Field(default="en", max_length=8, sa_column_kwargs={"server_default": "en"})
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default=OutboxStatus.QUEUED, max_length=12, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = utc_column()


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
    already superseded by newer figures) or ``ignored`` (unknown endpoint, or a published event
    type the portal does not apply) or ``failed`` (``error``); or ``unrecognised`` from the
    start (``error`` says why; ``payload`` is the event, or ``{"raw", "truncated", "bytes"}``
    for a body that is not JSON or holds no event). ``event_at`` is the platform's timestamp
    of the event (its clock), ``seq`` its sequence number when the platform gives one.
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
    status: str = Field(default=CallbackStatus.PENDING, max_length=12, index=True)
    error: str | None = Field(default=None, max_length=500)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    processed_at: datetime | None = utc_column()


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
