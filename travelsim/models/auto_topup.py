"""Automatic top-up: one rule per eSIM and the charges it made
(docs/business-rules.md#automatic-top-up).

``AutoTopupRule.armed`` and ``crossings`` make firing a compare-and-set: a crossing of the
threshold is claimed by the one ``UPDATE … WHERE armed`` that changes the row, and the charge
row of that crossing is unique per ``(rule_id, crossing)``, so the database decides which of
the usage sync, a callback or another worker buys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utc_column, utcnow
from travelsim.models.consent import ConsentFields
from travelsim.models.statuses import AutoTopupChargeStatus


class AutoTopupRule(ConsentFields, table=True):
    """A traveler's automatic top-up of one eSIM (one row per eSIM, kept when turned off).

    ``threshold_kind``: ``bytes`` (``threshold_value`` in bytes of data left) or ``percent``
    (``threshold_value`` % of the current add-on's initial bytes). ``plan_id``: the top-up
    plan bought; ``currency``: the
    currency it is charged in (ISO 4217; ``None``: the plan's base price); ``saved_card_id``: the
    ``SavedCard`` paid with (no foreign key: removing the
    card stops the rule instead of being refused). ``monthly_cap``: charges per calendar
    month (UTC). ``armed``: the next crossing may buy; ``crossings``: crossings claimed so far.
    ``enabled`` False with ``stop_reason`` (``cap_reached``, ``declined``,
    ``authentication_required``, ``suspended``, ``card_removed``, ``validity``,
    ``plan_unavailable``, ``addon_limit``, ``payment_error``; ``None``: turned off by the
    traveler) and ``stopped_at`` (UTC).
    """

    __tablename__ = "auto_topup_rule"
    __table_args__ = (
        CheckConstraint("threshold_kind IN ('bytes', 'percent')", name="ck_auto_topup_kind"),
        CheckConstraint("monthly_cap >= 1", name="ck_auto_topup_cap"),
    )

    id: int | None = Field(default=None, primary_key=True)
    esim_id: int = Field(foreign_key="esim.id", unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    enabled: bool = Field(default=False, index=True)
    threshold_kind: str = Field(max_length=8)
    threshold_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    plan_id: str = Field(foreign_key="plan.plan_id", max_length=32)
    saved_card_id: int | None = None
    currency: str | None = Field(default=None, max_length=3)
    monthly_cap: int = 2
    armed: bool = True
    crossings: int = 0
    stop_reason: str | None = Field(default=None, max_length=32)
    stopped_at: datetime | None = utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class AutoTopupCharge(SQLModel, table=True):
    """What one claimed crossing of a rule did (unique per ``(rule_id, crossing)``).

    ``status``: ``pending`` (being bought), ``charged`` (held on the card; ``order_id`` is
    the top-up order), ``requires_action`` (the bank wants 3-D Secure: ``checkout_id`` is
    where the traveler finishes it), ``declined``, ``capped`` (the monthly cap was reached:
    nothing bought), ``skipped`` (a stop reason applied before any charge), ``failed``.
    ``month``: ``YYYY-MM`` of ``created_at`` in UTC (the cap's calendar month).
    ``amount_minor``/``currency``: the checkout's amount; ``card_label``: "Visa •••• 4242".
    """

    __tablename__ = "auto_topup_charge"
    __table_args__ = (UniqueConstraint("rule_id", "crossing", name="uq_auto_topup_crossing"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="auto_topup_rule.id", index=True)
    crossing: int
    esim_id: int = Field(foreign_key="esim.id", index=True)
    plan_id: str = Field(max_length=32)
    status: str = Field(default=AutoTopupChargeStatus.PENDING, max_length=20)
    month: str = Field(max_length=7)
    checkout_id: str | None = Field(default=None, max_length=36)
    order_id: str | None = Field(default=None, max_length=36)
    amount_minor: int = 0
    currency: str = Field(default="", max_length=3)
    card_label: str = Field(default="", max_length=48)
    detail: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
