"""reconciliation: discrepancies between Stripe, the portal and SFT

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 03:00:00.000000

``reconciliation_discrepancy``: one row per disagreement the reconciliation found (stable
``key``, unique), with the ids and amounts involved, first and last seen, and its resolution.
See docs/reconciliation.md.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import travelsim.models

revision: str = "0016"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "reconciliation_discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _TEXT(length=120), nullable=False),
        sa.Column("kind", _TEXT(length=32), nullable=False),
        sa.Column("status", _TEXT(length=12), nullable=False),
        sa.Column("order_id", _TEXT(length=36), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("payment_intent", _TEXT(length=64), nullable=True),
        sa.Column("iccid", _TEXT(length=22), nullable=True),
        sa.Column("endpoint_id", _TEXT(length=32), nullable=True),
        sa.Column("addon_unique_id", _TEXT(length=32), nullable=True),
        sa.Column("expected_minor", sa.Integer(), nullable=True),
        sa.Column("expected_currency", _TEXT(length=3), nullable=True),
        sa.Column("actual_minor", sa.Integer(), nullable=True),
        sa.Column("actual_currency", _TEXT(length=3), nullable=True),
        sa.Column("detail", _TEXT(length=500), nullable=False),
        sa.Column("occurred_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("first_seen_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.Column("notified_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", _TEXT(length=254), nullable=True),
        sa.Column("resolved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("resolution", _TEXT(length=40), nullable=True),
        sa.Column("resolution_note", _TEXT(length=1000), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'cleared')", name="ck_reconciliation_status"
        ),
        sa.ForeignKeyConstraint(["resolved_by_user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("reconciliation_discrepancy") as batch:
        batch.create_index(
            batch.f("ix_reconciliation_discrepancy_kind"), ["kind"], unique=False
        )
        batch.create_index(
            batch.f("ix_reconciliation_discrepancy_status"), ["status"], unique=False
        )
        batch.create_index(
            batch.f("ix_reconciliation_discrepancy_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("reconciliation_discrepancy")
