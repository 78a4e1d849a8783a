"""payments: Stripe PaymentIntents with manual capture, saved cards, webhook events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:30:00.000000

``payment`` gets ``card_ref`` (the Stripe card paid with), ``keep_card`` (the traveler keeps
it for later top-ups) and ``captured_at`` (UTC; set when the hold is captured at delivery).
``app_user`` gets ``stripe_customer_id``. New tables: ``saved_card`` (brand and last four
digits of a kept card; nothing else of the card) and ``stripe_event`` (webhook events already
applied, so retries and replays change nothing). See docs/payments.md.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import travelsim.models

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("card_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(
            sa.Column("keep_card", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("captured_at", travelsim.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("stripe_customer_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.create_unique_constraint("uq_app_user_stripe_customer_id", ["stripe_customer_id"])
    op.create_table(
        "saved_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("last4", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("created_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_ref"),
    )
    op.create_index(op.f("ix_saved_card_user_id"), "saved_card", ["user_id"], unique=False)
    op.create_table(
        "stripe_event",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("object_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("received_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stripe_event_object_ref"), "stripe_event", ["object_ref"], unique=False)
    op.create_index(op.f("ix_stripe_event_received_at"), "stripe_event", ["received_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_stripe_event_received_at"), table_name="stripe_event")
    op.drop_index(op.f("ix_stripe_event_object_ref"), table_name="stripe_event")
    op.drop_table("stripe_event")
    op.drop_index(op.f("ix_saved_card_user_id"), table_name="saved_card")
    op.drop_table("saved_card")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint("uq_app_user_stripe_customer_id", type_="unique")
        batch.drop_column("stripe_customer_id")
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("captured_at")
        batch.drop_column("keep_card")
        batch.drop_column("card_ref")
