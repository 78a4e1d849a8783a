"""VAT per country and invoices

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04 03:00:00.000000

``vat_rate``: the standard VAT rate of each EU member state in hundredths of a percent,
seeded here from ``travelsim/seed/vat_rates.json`` (docs/business-rules.md#vat-rates).
``invoice_counter``: the last number given per series (invoices, credit notes) and calendar
year (docs/business-rules.md#invoice-numbers). ``purchase_order`` gets its invoice number, the
credit note of its refund, and the
tax decision with its evidence (all NULL for orders created before: they keep their receipt as
it was); ``payment.card_country`` and ``saved_card.country``: the card's issuing country;
``app_user.country``: the country of residence the traveler stated.
"""

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import travelsim.models

revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_RATES_FILE = Path(__file__).resolve().parents[2] / "travelsim" / "seed" / "vat_rates.json"


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    """Upgrade schema."""
    rates = op.create_table(
        "vat_rate",
        sa.Column("country", _string(2), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("updated_by", _string(254), nullable=True),
        sa.Column("updated_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint("rate_bp >= 0 AND rate_bp < 10000", name="ck_vat_rate_range"),
        sa.PrimaryKeyConstraint("country"),
    )
    op.create_table(
        "invoice_counter",
        sa.Column("series", _string(12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year"),
    )
    seed = json.loads(_RATES_FILE.read_text(encoding="utf-8"))
    now = datetime.now(timezone.utc)
    op.bulk_insert(
        rates,
        [
            {"country": code, "rate_bp": int(Decimal(rate) * 100), "updated_at": now}
            for code, rate in sorted(seed["rates"].items())
        ],
    )
    with op.batch_alter_table("purchase_order") as batch:
        batch.add_column(sa.Column("invoice_number", _string(16), nullable=True))
        batch.add_column(sa.Column("credit_note_number", _string(20), nullable=True))
        batch.add_column(sa.Column("tax_country", _string(2), nullable=True))
        batch.add_column(sa.Column("tax_rate_bp", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tax_rule", _string(20), nullable=True))
        batch.add_column(sa.Column("evidence_card_country", _string(2), nullable=True))
        batch.add_column(sa.Column("evidence_stated_country", _string(2), nullable=True))
        batch.create_unique_constraint("uq_purchase_order_invoice_number", ["invoice_number"])
        batch.create_unique_constraint(
            "uq_purchase_order_credit_note_number", ["credit_note_number"]
        )
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("card_country", _string(2), nullable=True))
    with op.batch_alter_table("saved_card") as batch:
        batch.add_column(sa.Column("country", _string(2), nullable=True))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("country", _string(2), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("country")
    with op.batch_alter_table("saved_card") as batch:
        batch.drop_column("country")
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("card_country")
    with op.batch_alter_table("purchase_order") as batch:
        batch.drop_constraint("uq_purchase_order_credit_note_number", type_="unique")
        batch.drop_constraint("uq_purchase_order_invoice_number", type_="unique")
        for name in (
            "evidence_stated_country",
            "evidence_card_country",
            "tax_rule",
            "tax_rate_bp",
            "tax_country",
            "credit_note_number",
            "invoice_number",
        ):
            batch.drop_column(name)
    op.drop_table("invoice_counter")
    op.drop_table("vat_rate")
