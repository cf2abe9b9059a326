"""search index only: no stored vectors on PostgreSQL, no word positions on SQLite

Revision ID: d2a7c5e9f104
Revises: c4f9a2e6b813
Create Date: 2026-12-01 21:00:00

An imported archive was still stored at about twice its size (issue 13), most of the rest
being the search index: on PostgreSQL a ``tsvector`` per document (1.2 times the text, its
positions and weights, kept so that ranking could read them) beside its GIN index; on SQLite
FTS5's position lists (half the text). Search now ranks a bounded set of candidates
(``services.search``), so neither is needed any more:

* PostgreSQL: ``search_documents.search_vector`` goes, with its triggers and GIN index. The
  GIN index is built on the expression instead, on the table that holds the text:
  ``ix_documents_search`` over ``search_vector_of(title, content)`` of ``documents`` (the
  index alone, no copy in the heap), and for the few entries whose text or title is not the
  document's columns yet (a REST write until compaction) ``ix_search_documents_pending`` over
  ``search_vector_of(title, body)`` of those rows only, with ``ix_search_documents_pending_id``
  to leave them out of the first. The same function, so the same words match as before.
  A search entry now refers to its document only when both the text and the title are the
  document's columns: entries with another title get their text as a copy here.
* SQLite: the FTS5 table is made again with ``detail=column`` (which column a word is in, not
  where): the same matches, ``bm25`` and snippets (FTS5 finds the positions by reading the
  text of the rows it ranks or shows), about half the index.

Not compatible with the previous release: on PostgreSQL it reads ``search_vector``. The
downgrade computes the vectors again (about as long as an import of the same documents) and
builds the FTS5 table with positions again.
"""

from collections.abc import Sequence

from alembic import op
from alembic.script import ScriptDirectory

revision: str = "d2a7c5e9f104"
down_revision: str | None = "c4f9a2e6b813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
compatible_with_previous = False

_OWN = "(SELECT {column} FROM documents WHERE documents.id = search_documents.document_id)"
# An entry refers to its document only when the title is the document's too.
TITLES_TO_COPIES = (
    f"UPDATE search_documents SET body = {_OWN.format(column='content')} "  # noqa: S608
    f"WHERE body IS NULL AND title <> {_OWN.format(column='title')}"
)

POSTGRESQL_UP = [
    "DROP TRIGGER search_vector_document ON documents",
    "DROP FUNCTION search_vector_of_document()",
    "DROP TRIGGER search_vector_update ON search_documents",
    "DROP TRIGGER search_vector_insert ON search_documents",
    "DROP FUNCTION search_documents_vector()",
    "ALTER TABLE search_documents DROP COLUMN search_vector",  # and its index
    TITLES_TO_COPIES,
    "CREATE INDEX ix_documents_search ON documents USING GIN (search_vector_of(title, content)) "
    "WITH (gin_pending_list_limit = 256)",
    "CREATE INDEX ix_search_documents_pending ON search_documents "
    "USING GIN (search_vector_of(title, body)) WHERE body IS NOT NULL",
    "CREATE INDEX ix_search_documents_pending_id ON search_documents (document_id) "
    "WHERE body IS NOT NULL",
]
POSTGRESQL_DOWN = [
    "DROP INDEX ix_search_documents_pending_id",
    "DROP INDEX ix_search_documents_pending",
    "DROP INDEX ix_documents_search",
    "ALTER TABLE search_documents ADD COLUMN search_vector tsvector",
    "ALTER TABLE search_documents ALTER COLUMN search_vector SET STORAGE MAIN",
    "UPDATE search_documents SET search_vector = search_vector_of(title, coalesce(body, "
    "(SELECT content FROM documents WHERE documents.id = search_documents.document_id)))",
]


def _vector_triggers() -> list[str]:
    """c4f9a2e6b813's triggers that keep the vectors, as that revision made them (its
    ``search_vector_of`` is still there), and the GIN index over them."""
    from mdreader.db.migrations import migrations_dir

    made = ScriptDirectory(str(migrations_dir())).get_revision(down_revision).module
    assert made.POSTGRESQL_UP[1].startswith("CREATE FUNCTION search_vector_of(")
    return [*made.POSTGRESQL_UP[2:], made.POSTGRESQL_DOWN[-1]]


def _sqlite_index(detail: str) -> list[str]:
    """The FTS5 table over ``search_content`` (c4f9a2e6b813's view, its triggers stay), filled
    from it; ``detail`` as FTS5 takes it."""
    return [
        "DROP TABLE search_fts",
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_content', "
        f"content_rowid='id', tokenize='unicode61 remove_diacritics 2', detail={detail})",
        "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = POSTGRESQL_UP
    else:
        statements = [TITLES_TO_COPIES, *_sqlite_index("column")]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = [*POSTGRESQL_DOWN, *_vector_triggers()]
    else:
        statements = _sqlite_index("full")
    for statement in statements:
        op.execute(statement)
