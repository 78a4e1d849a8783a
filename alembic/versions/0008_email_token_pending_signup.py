"""accounts: a sign-up's pending password and browser flow ride on its verification link

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:30:00.000000

``email_token`` gets ``password_hash`` (the Argon2 hash of the password the sign-up that
issued a verification link chose: verifying sets it, so no earlier sign-up's password stays
usable) and ``flow_hash`` (SHA-256 of the random value in that sign-up's browser cookie: only
that browser is signed in by the link). ``user_id`` becomes nullable: forgot-password and
resend-verification write a decoy row (used at birth, never usable) for an address without
an account, so both cases do the same database work. See
docs/architecture.md#security-accounts-and-throttling.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("email_token") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("flow_hash", sa.String(length=64), nullable=True))
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM email_token WHERE user_id IS NULL")
    with op.batch_alter_table("email_token") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("flow_hash")
        batch.drop_column("password_hash")
