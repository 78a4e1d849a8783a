"""accounts: the traveler's language

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:30:00.000000

``app_user`` gets ``locale``: the language the traveler chose with the switcher (``en``,
``fr``, ``de``, ``es``), or NULL until they choose. Pages open in it after sign-in and emails
are written in it. See docs/i18n.md.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("locale")
