"""Money reconciliation: the discrepancies found between Stripe, the portal's books and the
SFT platform (docs/reconciliation.md).

Money is an integer count of the currency's minor units (cents) with an ISO 4217 code beside
it; times are UTC."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow


class DiscrepancyKind(StrEnum):
    """``Discrepancy.kind`` (docs/reconciliation.md#what-is-compared)."""

    #: Captured (portal and Stripe) but the order's add-on was never delivered, or withdrawn.
    PAID_NOT_DELIVERED = "paid_not_delivered"
    #: A live add-on on one of the portal's endpoints that no paid order bought.
    ORPHAN_ADDON = "orphan_addon"
    #: Stripe holds or captured another amount or currency than the order's.
    AMOUNT_MISMATCH = "amount_mismatch"
    #: Refunded or voided (in Stripe or the portal) while the add-on is still live on SFT.
    REFUNDED_ADDON_LIVE = "refunded_addon_live"
    #: A captured PaymentIntent at Stripe that no portal payment names.
    STRIPE_UNKNOWN_CAPTURE = "stripe_unknown_capture"
    #: A portal payment marked captured that Stripe does not have captured (or at all).
    PORTAL_CAPTURE_MISSING = "portal_capture_missing"
    #: Stripe refunded a payment the portal still counts as paid.
    REFUND_UNRECORDED = "refund_unrecorded"


class DiscrepancyStatus(StrEnum):
    """``Discrepancy.status``: ``open`` → ``resolved`` (a staff action) or ``cleared`` (a
    later run no longer found it); a cleared or fixed one found again is ``open`` again."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLEARED = "cleared"


class Discrepancy(SQLModel, table=True):
    """One disagreement between Stripe, the portal and SFT, kept across runs by its stable
    ``key`` (``<kind>:<subject id>``, unique), so re-running never duplicates it.

    Ids involved (each may be ``None``): ``order_id``, ``payment_id``, ``payment_intent``
    (``pi_…``), ``iccid``/``endpoint_id``, ``addon_unique_id`` (the SFT add-on instance).
    ``expected_minor``/``expected_currency``: what the portal's books say;
    ``actual_minor``/``actual_currency``: what Stripe says (minor units, ISO 4217).
    ``occurred_at``: when its subject happened (the order or PaymentIntent's creation, UTC),
    which decides whether a run's window still covers it. ``first_seen_at``/``last_seen_at``:
    the runs that found it (UTC); ``notified_at``: when staff were emailed about it (once).
    Resolution: ``resolved_at`` (UTC), ``resolved_by`` (a staff address, or ``reconciliation``
    for an automatic clearing), ``resolution`` (the action, e.g. ``refund``, ``reviewed``,
    ``cleared``) and ``resolution_note`` (what was done, the staff member's note).
    """

    __tablename__ = "reconciliation_discrepancy"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'resolved', 'cleared')", name="ck_reconciliation_status"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=32, index=True)
    status: str = Field(default=DiscrepancyStatus.OPEN, max_length=12, index=True)
    order_id: str | None = Field(default=None, max_length=36, index=True)
    payment_id: int | None = None
    payment_intent: str | None = Field(default=None, max_length=64)
    iccid: str | None = Field(default=None, max_length=22)
    endpoint_id: str | None = Field(default=None, max_length=32)
    addon_unique_id: str | None = Field(default=None, max_length=32)
    expected_minor: int | None = None
    expected_currency: str | None = Field(default=None, max_length=3)
    actual_minor: int | None = None
    actual_currency: str | None = Field(default=None, max_length=3)
    detail: str = Field(default="", max_length=500)
    occurred_at: datetime | None = utc_column()
    first_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    notified_at: datetime | None = utc_column()
    resolved_at: datetime | None = utc_column()
    resolved_by: str | None = Field(default=None, max_length=254)
    resolved_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    resolution: str | None = Field(default=None, max_length=40)
    resolution_note: str | None = Field(default=None, max_length=1000)
