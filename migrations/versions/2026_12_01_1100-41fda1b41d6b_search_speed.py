"""search speed: an index of trashed documents, and search vectors kept in the table row

Revision ID: 41fda1b41d6b
Revises: 5f1e0b7c2a41
Create Date: 2026-12-01 11:00:00

What search returns does not change; only how fast the databases get there:

* ``ix_documents_trashed``, a partial index of the few trashed documents: PostgreSQL's search
  leaves them out with an anti-join against this small index instead of looking up every
  matching document in ``documents``. (Made on both databases so the models stay one; on
  SQLite it holds the same few rows and costs as little.)
* PostgreSQL only: the generated ``search_vector`` is stored in the table row (storage MAIN)
  rather than moved out to the TOAST table, where ranking (``ts_rank_cd`` reads the vector of
  every match) paid an extra index lookup and copy per match; the body, read only for the
  page of hits shown, goes out of line instead. Existing rows are rewritten once so their
  vectors move too (the generated column is recomputed: the same vector as before). That
  costs about 0.5 ms a document (10,000 in about 5 s here), and ``search_documents`` stays
  locked until the migration commits: searches, REST writes of documents and compaction wait
  that long, once. Live edits are not held up (they only append to the update log).
* PostgreSQL only: the GIN index's pending list (new entries not yet merged into the index,
  read in full by every search until a vacuum or the writer that overflows it merges them)
  is capped at 256 kB instead of the default 4 MB. Writes keep most of the batching it buys
  (a bulk import of 3,000 documents took 1.6 s against 1.45 s; with no pending list at all,
  2.5 s). Whatever is pending now is merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "41fda1b41d6b"
down_revision: str | None = "5f1e0b7c2a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Additive (an index, a storage setting): the previous release searches this schema as before.
compatible_with_previous = True

TRASHED = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_documents_trashed",
        "documents",
        ["id"],
        postgresql_where=TRASHED,
        sqlite_where=TRASHED,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_documents ALTER COLUMN search_vector SET STORAGE MAIN")
        op.execute("UPDATE search_documents SET body = body")
        op.execute("ALTER INDEX ix_search_documents_vector SET (gin_pending_list_limit = 256)")
        op.execute("SELECT gin_clean_pending_list('ix_search_documents_vector')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_search_documents_vector RESET (gin_pending_list_limit)")
        op.execute("ALTER TABLE search_documents ALTER COLUMN search_vector SET STORAGE EXTENDED")
    op.drop_index("ix_documents_trashed", table_name="documents")
