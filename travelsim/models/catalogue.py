"""The seller's catalogue: the add-on plans offered for sale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    String,
    false,
    true,
)
from sqlmodel import Field, SQLModel

from travelsim.models.columns import utc_column


class Plan(SQLModel, table=True):
    """An add-on plan of the catalogue.

    Platform fields (``sft_*``, volume, validity, activation) are synced from SFT's
    ``QueryRatePlan`` (docs/sft-platform.md#queryrateplan) and overwritten by every sync.
    Seller-owned fields (price, currency, display name, destinations, activation policy text,
    on-sale flag, network facts) are never touched by the sync. A plan without a price can
    never be on sale (database check constraint).
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
    #: Network facts (docs/esim.md#network-facts), seller-owned: the partner networks per
    #: covered country, ``{"FR": [{"name": "Orange", "generation": "5G"}]}`` (``generation``
    #: ``4G`` or ``5G``; services/network_facts.py checks them).
    networks: dict[str, list[dict[str, str]]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    hotspot: bool = Field(
        default=True,
        sa_column=Column(Boolean, nullable=False, server_default=true()),
        description="Sharing the data with other devices (tethering) is allowed",
    )
    apn: str | None = Field(
        default=None, max_length=100, description="APN the traveler must set by hand, else None"
    )
    starts_anywhere: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=false()),
        description="The plan starts when the phone first connects in any covered country",
    )
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


class PlanPrice(SQLModel, table=True):
    """A seller-set price of a plan in a currency other than its base one
    (docs/i18n.md#currencies). Prices are never converted at run time: a plan without a
    row for the traveler's currency is shown at its base price (``Plan.price_minor`` /
    ``Plan.currency``)."""

    __tablename__ = "plan_price"
    __table_args__ = (CheckConstraint("price_minor >= 0", name="ck_plan_price_row_nonneg"),)

    plan_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("plan.plan_id", ondelete="CASCADE"), primary_key=True
        )
    )
    currency: str = Field(primary_key=True, max_length=3, description="ISO 4217 code")
    price_minor: int = Field(description="Price in the currency's minor units")


class PlanText(SQLModel, table=True):
    """The seller's display name and description of a plan in one language
    (docs/i18n.md#plan-texts); English (``Plan.display_name``) is the fallback."""

    __tablename__ = "plan_text"

    plan_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("plan.plan_id", ondelete="CASCADE"), primary_key=True
        )
    )
    locale: str = Field(primary_key=True, max_length=8)
    display_name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
