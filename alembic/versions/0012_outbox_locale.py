"""outbox: the language of each email

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:00:00.000000

``outbox_email`` gets ``locale``: the language the email was written in (``en``, ``fr``,
``de``, ``es``), decided when it was queued from the recipient's account, and sent as its
``Content-Language`` header. Rows queued before keep ``en``. See docs/i18n.md#emails.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outbox_email") as batch:
        batch.add_column(
            sa.Column(
                "locale",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="en",
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox_email") as batch:
        batch.drop_column("locale")
