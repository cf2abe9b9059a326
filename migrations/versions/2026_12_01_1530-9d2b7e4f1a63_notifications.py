"""notifications: the in-app inbox, who follows which document, e-mail preferences

Revision ID: 9d2b7e4f1a63
Revises: 7c0a3e5d2b19
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mdreader.db.types

revision: str = "9d2b7e4f1a63"
down_revision: str | None = "7c0a3e5d2b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Additive (new tables): the previous release runs on this schema.
compatible_with_previous = True


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("excerpt", sa.String(length=300), nullable=False),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_notifications_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_notifications_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_notifications_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_notifications_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_user_created", "notifications", ["user_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_notifications_unemailed",
        "notifications",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("emailed_at IS NULL"),
        sqlite_where=sa.text("emailed_at IS NULL"),
    )
    op.create_table(
        "document_follows",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_document_follows_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_follows_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "document_id", name=op.f("pk_document_follows")),
    )
    op.create_index(
        op.f("ix_document_follows_document_id"), "document_follows", ["document_id"], unique=False
    )
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email_mentions", sa.Boolean(), nullable=False),
        sa.Column("email_replies", sa.Boolean(), nullable=False),
        sa.Column("email_comments", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_index(op.f("ix_document_follows_document_id"), table_name="document_follows")
    op.drop_table("document_follows")
    op.drop_index("ix_notifications_unemailed", table_name="notifications")
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_table("notifications")
