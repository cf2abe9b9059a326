"""comments: threads and replies on documents, and whether viewers of a workspace may comment

Revision ID: 7c0a3e5d2b19
Revises: ad6f2b4e5e87
Create Date: 2026-12-01 15:00:00

A thread is a ``comments`` row without ``parent_id``; its replies name it. A thread may be
anchored to a range of the text by two Yjs relative positions (``anchor_start`` /
``anchor_end``, the binary encoding of ``Y.encodeRelativePosition``), with the quoted text as
it was; a thread without them is about the whole document. ``workspaces.viewers_comment``
gives viewers the ``commenter`` ability (off by default).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mdreader.db.types

revision: str = "7c0a3e5d2b19"
down_revision: str | None = "ad6f2b4e5e87"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Additive (a table, a column with a default): the previous release runs on this schema.
compatible_with_previous = True


def upgrade() -> None:
    op.add_column(
        "workspaces",
        sa.Column("viewers_comment", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("anchor_start", sa.LargeBinary(), nullable=True),
        sa.Column("anchor_end", sa.LargeBinary(), nullable=True),
        sa.Column("quote", sa.String(length=1000), nullable=True),
        sa.Column("resolved_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", mdreader.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_comments_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["comments.id"],
            name=op.f("fk_comments_parent_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_comments_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        "ix_comments_document_created", "comments", ["document_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_comments_parent_id"), "comments", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_comments_parent_id"), table_name="comments")
    op.drop_index("ix_comments_document_created", table_name="comments")
    op.drop_table("comments")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("viewers_comment")
