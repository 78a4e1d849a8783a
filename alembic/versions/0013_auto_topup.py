"""automatic top-up: rules and their charges

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00.000000

``auto_topup_rule``: one per eSIM (threshold in bytes or percent, plan, saved card, monthly
cap, the ``armed`` flag and ``crossings`` counter that make firing a compare-and-set, and
why it stopped). ``auto_topup_charge``: what each claimed crossing did, unique per
``(rule_id, crossing)``. See docs/business-rules.md#automatic-top-up.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import travelsim.models.columns

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    utc = travelsim.models.columns.UTCDateTime
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "auto_topup_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("esim_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold_kind", text(length=8), nullable=False),
        sa.Column("threshold_value", sa.BigInteger(), nullable=False),
        sa.Column("plan_id", text(length=32), nullable=False),
        sa.Column("saved_card_id", sa.Integer(), nullable=True),
        sa.Column("currency", text(length=3), nullable=True),
        sa.Column("monthly_cap", sa.Integer(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.Column("stop_reason", text(length=32), nullable=True),
        sa.Column("stopped_at", utc(), nullable=True),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.CheckConstraint("threshold_kind IN ('bytes', 'percent')", name="ck_auto_topup_kind"),
        sa.CheckConstraint("monthly_cap >= 1", name="ck_auto_topup_cap"),
        sa.ForeignKeyConstraint(["esim_id"], ["esim.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.plan_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("esim_id"),
    )
    op.create_index("ix_auto_topup_rule_user_id", "auto_topup_rule", ["user_id"])
    op.create_index("ix_auto_topup_rule_enabled", "auto_topup_rule", ["enabled"])
    op.create_table(
        "auto_topup_charge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("crossing", sa.Integer(), nullable=False),
        sa.Column("esim_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", text(length=32), nullable=False),
        sa.Column("status", text(length=20), nullable=False),
        sa.Column("month", text(length=7), nullable=False),
        sa.Column("checkout_id", text(length=36), nullable=True),
        sa.Column("order_id", text(length=36), nullable=True),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", text(length=3), nullable=False),
        sa.Column("card_label", text(length=48), nullable=False),
        sa.Column("detail", text(length=64), nullable=True),
        sa.Column("created_at", utc(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["auto_topup_rule.id"]),
        sa.ForeignKeyConstraint(["esim_id"], ["esim.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "crossing", name="uq_auto_topup_crossing"),
    )
    op.create_index("ix_auto_topup_charge_rule_id", "auto_topup_charge", ["rule_id"])
    op.create_index("ix_auto_topup_charge_esim_id", "auto_topup_charge", ["esim_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_auto_topup_charge_esim_id", table_name="auto_topup_charge")
    op.drop_index("ix_auto_topup_charge_rule_id", table_name="auto_topup_charge")
    op.drop_table("auto_topup_charge")
    op.drop_index("ix_auto_topup_rule_enabled", table_name="auto_topup_rule")
    op.drop_index("ix_auto_topup_rule_user_id", table_name="auto_topup_rule")
    op.drop_table("auto_topup_rule")
