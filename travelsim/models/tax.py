"""VAT rates per EU member state and the invoice-number counters (docs/business-rules.md#vat).

Rates are hundredths of a percent (``2100`` = 21 %, ``2550`` = 25.5 %), so they are exact
integers in every database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from travelsim.models.columns import UTCDateTime, utcnow


class VatRate(SQLModel, table=True):
    """The standard VAT rate of one EU member state (``country``: ISO 3166-1 alpha-2), in
    hundredths of a percent. Seeded from ``travelsim/seed/vat_rates.json`` (migration 0017);
    staff edit it on ``/admin/tax`` (``updated_by``: the staff email, ``None`` for the seed)."""

    __tablename__ = "vat_rate"
    __table_args__ = (
        CheckConstraint("rate_bp >= 0 AND rate_bp < 10000", name="ck_vat_rate_range"),
    )

    country: str = Field(primary_key=True, max_length=2)
    rate_bp: int
    updated_by: str | None = Field(default=None, max_length=254)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class InvoiceCounter(SQLModel, table=True):
    """The last number given in one ``series`` (``invoice`` or ``credit_note``) and calendar
    ``year`` (UTC). Incremented in the transaction that writes the order or its refund
    (``services.invoices.next_invoice_number``), so a rolled-back one gives its number back
    and numbers are gap-free."""

    __tablename__ = "invoice_counter"

    series: str = Field(default="invoice", primary_key=True, max_length=12)
    year: int = Field(primary_key=True)
    last_number: int = 0
