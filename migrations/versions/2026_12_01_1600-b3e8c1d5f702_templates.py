"""templates: documents of a workspace marked as templates

Revision ID: b3e8c1d5f702
Revises: 9d2b7e4f1a63
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mdreader.db.types

revision: str = "b3e8c1d5f702"
down_revision: str | None = "9d2b7e4f1a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Additive (a new table): the previous release runs on this schema.
compatible_with_previous = True


def upgrade() -> None:
    op.create_table(
        "document_templates",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_templates_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_document_templates_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_document_templates_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_templates")),
    )
    op.create_index(
        op.f("ix_document_templates_workspace_id"),
        "document_templates",
        ["workspace_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_document_templates_workspace_id"), table_name="document_templates")
    op.drop_table("document_templates")
