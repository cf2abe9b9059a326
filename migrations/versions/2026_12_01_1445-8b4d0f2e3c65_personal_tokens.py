"""personal access tokens

Revision ID: 8b4d0f2e3c65
Revises: 7a3c9e1d2b54
Create Date: 2026-12-01 14:45:00

A new table only: the previous release never reads it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mdreader.db.types

revision: str = "8b4d0f2e3c65"
down_revision: str | None = "7a3c9e1d2b54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
compatible_with_previous = True


def upgrade() -> None:
    op.create_table(
        "personal_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_personal_tokens_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_personal_tokens_user_id"), "personal_tokens", ["user_id"], unique=False
    )
    op.create_index(
        op.f("ix_personal_tokens_workspace_id"), "personal_tokens", ["workspace_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_personal_tokens_workspace_id"), table_name="personal_tokens")
    op.drop_index(op.f("ix_personal_tokens_user_id"), table_name="personal_tokens")
    op.drop_table("personal_tokens")
