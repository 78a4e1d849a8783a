"""provisioning: persisted automatic retry schedule of an order

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:00:00.000000

``purchase_order`` gets ``retry_count``, ``first_failed_at`` and ``next_attempt_at``: an
order that failed on a transient platform fault waits, in the database, for the recovery job
to run it again (it survives restarts and is seen by every worker).
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import travelsim.models

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("purchase_order") as batch:
        batch.add_column(
            sa.Column("retry_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("first_failed_at", travelsim.models.UTCDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("next_attempt_at", travelsim.models.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("purchase_order") as batch:
        batch.alter_column("retry_count", server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("purchase_order") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("first_failed_at")
        batch.drop_column("retry_count")
