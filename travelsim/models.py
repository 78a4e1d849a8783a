"""SQLModel tables of the portal database (owned by Alembic: ``alembic/versions``).

Conventions: byte counts are ``BigInteger`` bytes; timestamps are timezone-aware UTC
(:class:`UTCDateTime` stores them naive-UTC on SQLite and ``timestamptz`` on PostgreSQL
and always returns aware UTC datetimes); money is an integer count of the currency's
minor units (cents) with an ISO 4217 code beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, DateTime, TypeDecorator
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
    ``QueryRatePlan`` (sft-api.md §3.12) and overwritten by every sync. Seller-owned
    fields (price, currency, display name, destinations, activation policy text,
    on-sale flag) are never touched by the sync. A plan without a price can never be on
    sale (database check constraint).
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
