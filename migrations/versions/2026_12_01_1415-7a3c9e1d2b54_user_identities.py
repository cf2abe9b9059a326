"""user identities: accounts at OpenID Connect providers linked to users

Revision ID: 7a3c9e1d2b54
Revises: 41fda1b41d6b
Create Date: 2026-12-01 14:15:00

A new table only: the previous release never reads it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mdreader.db.types

revision: str = "7a3c9e1d2b54"
down_revision: str | None = "41fda1b41d6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
compatible_with_previous = True


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_user_identities_provider")),
    )
    op.create_index(
        op.f("ix_user_identities_user_id"), "user_identities", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_user_identities_user_id"), table_name="user_identities")
    op.drop_table("user_identities")
