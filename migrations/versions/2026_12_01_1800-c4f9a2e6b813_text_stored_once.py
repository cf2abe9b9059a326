"""text stored once: search entries and first versions refer to the document's content

Revision ID: c4f9a2e6b813
Revises: b3e8c1d5f702
Create Date: 2026-12-01 18:00:00

An imported document was stored about five times over: its Markdown, its Yjs state, a copy
for search, and a copy as its first version (issue 13). From this revision on:

* ``search_documents.body`` is NULL when the searchable text is the document's own content
  column (it holds a text only between a REST write and the compaction that follows). The
  full-text index follows ``coalesce(body, documents.content)`` through triggers: on SQLite
  the FTS5 table's external content becomes the view ``search_content`` (rebuilt once, the
  same index), on PostgreSQL ``search_vector`` is no longer a generated column but is kept by
  triggers calling ``search_vector_of`` (the same expression as before, so the same vectors).
* ``document_versions.content`` is NULL for a version that refers to the document's content
  column; compaction copies the text into such versions before it changes that column.
* Documents may be stored with no Yjs state (``ystate`` empty): the application seeds the
  state from the text when it is first needed (mdreader.ytext). No column changes for that.

Existing rows whose copy equals the document's content become references, which frees that
space. Not compatible with the previous release: it would read an empty state as an empty
document, and a NULL version or search text as a missing one. The downgrade writes every
copy back and gives each stateless document its seed as stored state (the very update the
application seeds it with, so edits logged on it still apply).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4f9a2e6b813"
down_revision: str | None = "b3e8c1d5f702"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
compatible_with_previous = False

# The PostgreSQL vector of 5e4c1a7d9b20, of a title and a text.
PG_VECTOR = (
    "setweight(to_tsvector('simple', translate(coalesce(title, ''), '<>', '  ')), 'A') || "
    "setweight(to_tsvector('simple', "
    "translate(left(coalesce(body, ''), 250000), '<>', '  ')), 'B')"
)
_OWN_TEXT = "(SELECT content FROM documents WHERE documents.id = {row}.document_id)"
# Copies of the document's own text, and back (only constant names are formatted in).
SEARCH_TO_NULL = (
    "UPDATE search_documents SET body = NULL "  # noqa: S608
    f"WHERE body = {_OWN_TEXT.format(row='search_documents')}"
)
VERSIONS_TO_NULL = (
    "UPDATE document_versions SET content = NULL "  # noqa: S608
    f"WHERE content = {_OWN_TEXT.format(row='document_versions')}"
)
SEARCH_FROM_NULL = (
    f"UPDATE search_documents SET body = {_OWN_TEXT.format(row='search_documents')} "  # noqa: S608
    "WHERE body IS NULL"
)
VERSIONS_FROM_NULL = (
    "UPDATE document_versions SET content = "  # noqa: S608
    f"{_OWN_TEXT.format(row='document_versions')} WHERE content IS NULL"
)

POSTGRESQL_UP = [
    "ALTER TABLE search_documents ALTER COLUMN search_vector DROP EXPRESSION",
    "CREATE FUNCTION search_vector_of(title text, body text) RETURNS tsvector "
    f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {PG_VECTOR} $$",
    "CREATE FUNCTION search_documents_vector() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.search_vector := search_vector_of(NEW.title, coalesce(NEW.body, "
    f"{_OWN_TEXT.format(row='NEW')})); RETURN NEW; END $$",
    "CREATE TRIGGER search_vector_insert BEFORE INSERT ON search_documents "
    "FOR EACH ROW EXECUTE FUNCTION search_documents_vector()",
    "CREATE TRIGGER search_vector_update BEFORE UPDATE OF title, body ON search_documents "
    "FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.body IS DISTINCT FROM "
    "NEW.body) EXECUTE FUNCTION search_documents_vector()",
    "CREATE FUNCTION search_vector_of_document() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE search_documents SET search_vector = search_vector_of(title, NEW.content) "
    "WHERE document_id = NEW.id AND body IS NULL; RETURN NULL; END $$",
    "CREATE TRIGGER search_vector_document AFTER UPDATE OF content ON documents "
    "FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content) "
    "EXECUTE FUNCTION search_vector_of_document()",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER search_vector_document ON documents",
    "DROP FUNCTION search_vector_of_document()",
    "DROP TRIGGER search_vector_update ON search_documents",
    "DROP TRIGGER search_vector_insert ON search_documents",
    "DROP FUNCTION search_documents_vector()",
    "DROP FUNCTION search_vector_of(text, text)",
    "ALTER TABLE search_documents DROP COLUMN search_vector",
    f"ALTER TABLE search_documents ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    "ALTER TABLE search_documents ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX ix_search_documents_vector ON search_documents USING GIN (search_vector) "
    "WITH (gin_pending_list_limit = 256)",
]

_FTS_DELETE = "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', "
_FTS_INSERT = "INSERT INTO search_fts(rowid, title, body) VALUES ("
SQLITE_UP = [
    "CREATE VIEW search_content AS SELECT sd.id AS id, sd.title AS title, "
    "coalesce(sd.body, d.content) AS body FROM search_documents AS sd "
    "JOIN documents AS d ON d.id = sd.document_id",
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_content', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_fts_insert AFTER INSERT ON search_documents BEGIN "
    f"{_FTS_INSERT}new.id, new.title, coalesce(new.body, {_OWN_TEXT.format(row='new')})); END",
    # A document that goes takes its entry with it while its text is still there to say what
    # the index holds (the cascade would come after the row is gone).
    "CREATE TRIGGER search_fts_document_delete BEFORE DELETE ON documents BEGIN "
    "DELETE FROM search_documents WHERE document_id = old.id; END",
    "CREATE TRIGGER search_fts_delete AFTER DELETE ON search_documents BEGIN "
    f"{_FTS_DELETE}old.id, old.title, coalesce(old.body, {_OWN_TEXT.format(row='old')})); END",
    "CREATE TRIGGER search_fts_update AFTER UPDATE OF title, body ON search_documents "
    "WHEN old.title IS NOT new.title OR old.body IS NOT new.body BEGIN "
    f"{_FTS_DELETE}old.id, old.title, coalesce(old.body, {_OWN_TEXT.format(row='old')})); "
    f"{_FTS_INSERT}new.id, new.title, coalesce(new.body, {_OWN_TEXT.format(row='new')})); END",
    "CREATE TRIGGER search_fts_document_update AFTER UPDATE OF content ON documents "
    "WHEN old.content IS NOT new.content BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) SELECT 'delete', sd.id, sd.title, "
    "old.content FROM search_documents AS sd WHERE sd.document_id = new.id AND sd.body IS NULL; "
    "INSERT INTO search_fts(rowid, title, body) SELECT sd.id, sd.title, new.content "
    "FROM search_documents AS sd WHERE sd.document_id = new.id AND sd.body IS NULL; END",
]
SQLITE_TRIGGERS = (
    "search_fts_insert",
    "search_fts_delete",
    "search_fts_update",
    "search_fts_document_delete",
    "search_fts_document_update",
)
# 5e4c1a7d9b20's index, over the copies.
SQLITE_DOWN = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_documents', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_fts_insert AFTER INSERT ON search_documents BEGIN "
    f"{_FTS_INSERT}new.id, new.title, new.body); END",
    "CREATE TRIGGER search_fts_delete AFTER DELETE ON search_documents BEGIN "
    f"{_FTS_DELETE}old.id, old.title, old.body); END",
    "CREATE TRIGGER search_fts_update AFTER UPDATE ON search_documents BEGIN "
    f"{_FTS_DELETE}old.id, old.title, old.body); {_FTS_INSERT}new.id, new.title, new.body); END",
]


def _drop_sqlite_index() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.execute("DROP VIEW IF EXISTS search_content")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_index()
    else:
        op.execute(POSTGRESQL_UP[0])  # the vectors stay as they are
    with op.batch_alter_table("search_documents") as batch_op:
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table("document_versions") as batch_op:
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=True)
    # Copies of the document's own text become references (before the triggers: the index
    # holds the same text either way).
    op.execute(SEARCH_TO_NULL)
    op.execute(VERSIONS_TO_NULL)
    for statement in SQLITE_UP if sqlite else POSTGRESQL_UP[1:]:
        op.execute(statement)
    if sqlite:
        op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")


def downgrade() -> None:
    # The application seeds a stateless document as it reads it; a seed may already sit in its
    # log (a REST edit logs the seed it edited, with the title of that moment): that one wins.
    from mdreader.ytext import full_state, make_doc

    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    documents = sa.table(
        "documents",
        sa.column("id", sa.Uuid()),
        sa.column("title", sa.String()),
        sa.column("content", sa.Text()),
        sa.column("ystate", sa.LargeBinary()),
    )
    stateless = bind.execute(
        sa.select(documents.c.id, documents.c.title, documents.c.content).where(
            sa.func.length(documents.c.ystate) == 0
        )
    ).all()
    updates_table = sa.table(
        "document_updates",
        sa.column("id", sa.BigInteger()),
        sa.column("document_id", sa.Uuid()),
        sa.column("data", sa.LargeBinary()),
    )
    for row in stateless:
        logged = [
            bytes(data)
            for (data,) in bind.execute(
                sa.select(updates_table.c.data)
                .where(updates_table.c.document_id == row.id)
                .order_by(updates_table.c.id)
            )
        ]
        doc = make_doc(b"", logged, title=row.title, content=row.content or "")
        bind.execute(
            documents.update()
            .where(documents.c.id == row.id)
            .values(ystate=full_state(doc, logged))
        )
    op.execute(VERSIONS_FROM_NULL)
    if sqlite:
        _drop_sqlite_index()
    else:
        for statement in POSTGRESQL_DOWN[:6]:
            op.execute(statement)
    op.execute(SEARCH_FROM_NULL)
    with op.batch_alter_table("document_versions") as batch_op:
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("search_documents") as batch_op:
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=False)
    for statement in SQLITE_DOWN if sqlite else POSTGRESQL_DOWN[6:]:
        op.execute(statement)
    if sqlite:
        op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
