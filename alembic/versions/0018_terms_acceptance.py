"""checkout, order, auto top-up rule: terms acceptance and immediate-start request

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-04 03:00:00.000000

``checkout``, ``purchase_order`` and ``auto_topup_rule`` get what the traveler agreed to
before paying (docs/legal.md#acceptance-at-checkout): ``terms_version`` and
``terms_accepted_at`` (UTC), ``withdrawal_version`` and ``immediate_start_at`` (UTC: the
express request for immediate start and the acknowledgement of losing the right of
withdrawal). All nullable: rows written before this have nothing recorded.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import travelsim.models

revision: str = "0018"
down_revision: Union[str, Sequence[str], None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("checkout", "purchase_order", "auto_topup_rule")


def upgrade() -> None:
    """Upgrade schema."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("terms_version", sqlmodel.sql.sqltypes.AutoString(length=32))
            )
            batch.add_column(
                sa.Column("terms_accepted_at", travelsim.models.UTCDateTime(), nullable=True)
            )
            batch.add_column(
                sa.Column("withdrawal_version", sqlmodel.sql.sqltypes.AutoString(length=32))
            )
            batch.add_column(
                sa.Column("immediate_start_at", travelsim.models.UTCDateTime(), nullable=True)
            )


def downgrade() -> None:
    """Downgrade schema."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("immediate_start_at")
            batch.drop_column("withdrawal_version")
            batch.drop_column("terms_accepted_at")
            batch.drop_column("terms_version")
