"""catalogue: prices per currency, plan texts per language; accounts: the chosen currency

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:40:00.000000

``plan_price`` holds a plan's seller-set prices in currencies other than its base one
(``plan.price_minor`` / ``plan.currency`` stay the base price); ``plan_text`` holds its display
name and description per language (English, ``plan.display_name``, is the fallback);
``app_user`` gets ``currency``, the currency the traveler chose, NULL until they choose.
See docs/i18n.md#currencies and docs/i18n.md#plan-texts.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "plan_price",
        sa.Column(
            "plan_id",
            sa.String(length=32),
            sa.ForeignKey("plan.plan_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), primary_key=True),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_minor >= 0", name="ck_plan_price_row_nonneg"),
    )
    op.create_table(
        "plan_text",
        sa.Column(
            "plan_id",
            sa.String(length=32),
            sa.ForeignKey("plan.plan_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), primary_key=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    )
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("currency")
    op.drop_table("plan_text")
    op.drop_table("plan_price")
