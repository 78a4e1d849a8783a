"""gifts: a new eSIM bought for someone else, and its claim links

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:45:00.000000

``gift`` (one per checkout marked as a gift: recipient, message, status, who claimed it),
``gift_link`` (the SHA-256 of each claim link sent, with its expiry) and
``esim.gift_pending`` (a sold eSIM nobody holds until its gift is claimed or taken back).
See docs/business-rules.md#gifts.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import travelsim.models

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "gift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkout_id", _TEXT(length=36), nullable=False),
        sa.Column("order_id", _TEXT(length=36), nullable=True),
        sa.Column("esim_id", sa.Integer(), nullable=True),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("recipient_email", _TEXT(length=254), nullable=False),
        sa.Column("message", _TEXT(length=300), nullable=True),
        sa.Column("locale", _TEXT(length=8), nullable=False),
        sa.Column("status", _TEXT(length=12), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("sent_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("resent_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("claimed_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'ordered', 'sent', 'claimed', 'cancelled')",
            name="ck_gift_status",
        ),
        sa.ForeignKeyConstraint(["buyer_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["checkout_id"], ["checkout.id"]),
        sa.ForeignKeyConstraint(["claimed_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["esim_id"], ["esim.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["purchase_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkout_id"),
        sa.UniqueConstraint("order_id"),
    )
    with op.batch_alter_table("gift") as batch:
        batch.create_index(batch.f("ix_gift_buyer_id"), ["buyer_id"], unique=False)
        batch.create_index(batch.f("ix_gift_esim_id"), ["esim_id"], unique=False)
        batch.create_index(batch.f("ix_gift_recipient_email"), ["recipient_email"], unique=False)
        batch.create_index(batch.f("ix_gift_status"), ["status"], unique=False)
    op.create_table(
        "gift_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gift_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("expires_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.Column("used_at", travelsim.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["gift_id"], ["gift.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gift_link") as batch:
        batch.create_index(batch.f("ix_gift_link_gift_id"), ["gift_id"], unique=False)
        batch.create_index(batch.f("ix_gift_link_token_hash"), ["token_hash"], unique=True)
    with op.batch_alter_table("esim") as batch:
        batch.add_column(
            sa.Column("gift_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Set with the checkout's draft gift: order creation asks the gift table only when it is
    # true, so a purchase that is no gift costs no extra query.
    with op.batch_alter_table("checkout") as batch:
        batch.add_column(
            sa.Column("is_gift", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("checkout") as batch:
        batch.drop_column("is_gift")
    with op.batch_alter_table("esim") as batch:
        batch.drop_column("gift_pending")
    op.drop_table("gift_link")
    op.drop_table("gift")
