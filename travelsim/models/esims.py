"""eSIMs (the inventory) and the figures mirrored from the platform for "My eSIMs":
add-on instances, daily usage, replacement requests and per-eSIM sync state.

Volumes are ``BigInteger`` bytes; ``None`` means unknown (never read as 0)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow
from travelsim.models.statuses import InventoryState, ReplacementRequestStatus

# --- inventory ----------------------------------------------------------------------------


class Esim(SQLModel, table=True):
    """An eSIM of the seller's SFT inventory, mirrored locally.

    ``state``: ``free`` (pre-active on SFT, nobody's), ``reserved`` (held exclusively for
    one checkout until ``reserved_until``), ``assigned`` (sold: belongs to ``user_id``
    for good; handed to nobody else but a gift's recipient when they claim it), ``retired``.
    A sold eSIM with ``gift_pending`` is held by nobody until claimed
    (docs/business-rules.md#gifts). Exclusivity comes from a
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
    state: str = Field(default=InventoryState.FREE, max_length=16, index=True)
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
    #: A gift not claimed yet (docs/business-rules.md#gifts): ``user_id`` is still the buyer,
    #: but nobody holds the eSIM (no install data, usage or eSIM page) until the claim moves
    #: it to the recipient or the buyer takes it back.
    gift_pending: bool = Field(default=False)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


# --- usage figures ("My eSIMs") -----------------------------------------------------------


class EsimAddon(SQLModel, table=True):
    """One SFT add-on instance (``uniqueId``) on an eSIM, mirrored from Get Endpoint Add-on
    Details (docs/sft-platform.md#get-endpoint-add-on-details) by
    ``services.usage_sync.sync_esims``.

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
    status: str = Field(default=ReplacementRequestStatus.OPEN, max_length=12, index=True)
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
