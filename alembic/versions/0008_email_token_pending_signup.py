"""accounts: a sign-up's pending password and browser flow ride on its verification link

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:30:00.000000

``email_token`` gets ``password_hash`` (the Argon2 hash of the password the sign-up that
issued a verification link chose: verifying sets it, so no earlier sign-up's password stays
usable) and ``flow_hash`` (SHA-256 of the random value in that sign-up's browser cookie: only
that browser is signed in by the link). ``user_id`` becomes nullable: forgot-password and
resend-verification write a decoy row (used at birth, never usable) for an address without
an account, so both cases do the same database work. ``login_attempt`` is dropped: sign-in
throttling counts on the shared rate limits now. See
docs/architecture.md#security-accounts-and-throttling.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import travelsim.models

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
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempt_created_at"))
        batch_op.drop_index(batch_op.f("ix_login_attempt_address"))
        batch_op.drop_index(batch_op.f("ix_login_attempt_account"))
    op.drop_table("login_attempt")


def downgrade() -> None:
    """Downgrade schema."""
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", travelsim.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempt_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempt_address"), ["address"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_login_attempt_created_at"), ["created_at"], unique=False
        )
    op.execute("DELETE FROM email_token WHERE user_id IS NULL")
    with op.batch_alter_table("email_token") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("flow_hash")
        batch.drop_column("password_hash")
