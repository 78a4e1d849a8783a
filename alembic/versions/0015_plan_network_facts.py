"""plan: network facts per destination

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 15:00:00.000000

``plan`` gets the seller's network facts (docs/esim.md#network-facts): ``networks``, the
partner networks per covered country (JSON ``{"FR": [{"name", "generation"}]}``, ``{}`` for
plans created before), ``hotspot`` (tethering allowed; true before), ``apn`` (the APN a
traveler must set by hand, else NULL) and ``starts_anywhere`` (the plan starts when the phone
first connects in any covered country; false before).
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("plan") as batch:
        batch.add_column(sa.Column("networks", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("hotspot", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("apn", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch.add_column(
            sa.Column("starts_anywhere", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("starts_anywhere")
        batch.drop_column("apn")
        batch.drop_column("hotspot")
        batch.drop_column("networks")
