"""Full-text search: SQLite FTS5 or PostgreSQL tsvector, the same answers from both.

``index`` keeps a document's searchable text current; it is called wherever the text or the
title changes (creation, REST writes, restore, import, and compaction of live edits).
``search`` ranks a workspace's documents and returns an HTML-escaped snippet per hit with the
matched words in ``<mark>``.

The text is not copied when it is the document's own: ``search_documents.body`` is NULL when
it equals ``documents.content`` (an import, a creation, every compaction), and holds the live
text only between a REST write and the compaction that brings the column up to it. Triggers
made by the migrations keep the full-text index on ``coalesce(body, documents.content)``:
on SQLite the FTS5 table's external content is the view ``search_content``, on PostgreSQL
the ``search_vector`` column is computed by ``search_vector_of`` whenever either changes.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Text, Uuid, bindparam, case, literal, null, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import Document, SearchDocument

MAX_TERMS = 16
# Private-use characters mark the hits inside snippets; they are turned into <mark> after
# the snippet is escaped, so nothing from the document can become markup.
_OPEN, _CLOSE = "\ue000", "\ue001"
_TERM = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Hit:
    document_id: uuid.UUID
    title: str
    snippet: str


def terms(query: str) -> list[str]:
    """The words of a query (punctuation and operators dropped), at most ``MAX_TERMS``.

    Every word must match; the last one as a prefix, since it may still be being typed."""
    return [t.lower() for t in _TERM.findall(query)][:MAX_TERMS]


async def index(
    session: AsyncSession,
    document_id: uuid.UUID,
    workspace_id: uuid.UUID,
    title: str,
    body: str,
) -> None:
    """Insert or replace the searchable title and text of one document (the text kept as
    NULL when it is the document's content column)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.flush()  # the content column as this transaction has it
    column = select(Document.content).where(Document.id == document_id).scalar_subquery()
    values = {
        "document_id": document_id,
        "workspace_id": workspace_id,
        "title": title,
        "body": case((column == body, null()), else_=literal(body, Text)),
    }
    stmt = insert(SearchDocument).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SearchDocument.document_id],
        set_={"title": stmt.excluded.title, "body": stmt.excluded.body},
    )
    await session.execute(stmt)


def _snippet(raw: str | None, fallback: str) -> str:
    raw = raw or fallback[:200]
    escaped = html.escape(" ".join(raw.split()), quote=False)
    return escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


# FTS5 ranks with its own ``rank`` column (the same bm25, the title weighted 10 to 1, set for
# this query only): FTS5 sorts the matches itself, so SQLite reads them in rank order and stops
# at the end of the page, joining documents and building snippets for those rows only.
# (ORDER BY bm25() joined every match to its document and sorted them all.)
_SQLITE = text(
    f"""
    SELECT sd.document_id AS document_id, d.title AS title,
           snippet(search_fts, -1, '{_OPEN}', '{_CLOSE}', '…', 24) AS snippet,
           substr(coalesce(sd.body, d.content), 1, 200) AS head
    FROM search_fts
    JOIN search_documents AS sd ON sd.id = search_fts.rowid
    JOIN documents AS d ON d.id = sd.document_id
    WHERE search_fts MATCH :match AND search_fts.rank MATCH 'bm25(10.0, 1.0)'
      AND sd.workspace_id = :workspace_id AND d.deleted_at IS NULL
    ORDER BY search_fts.rank
    LIMIT :limit OFFSET :offset
    """  # noqa: S608 - only constant markers are formatted in
).bindparams(bindparam("workspace_id", type_=Uuid))

# Rank and page on row ids and vectors alone, then read the text and build headlines for the
# page only (ts_headline re-parses the text). The parts that cost:
# - the query is parsed once per statement, in a sub-select (an InitPlan), not once per row:
#   the driver prepares statements, and in a generic plan to_tsquery(:tsquery) would be
#   evaluated again for every match ranked and every headline;
# - trashed documents are left out by an anti-join against the small partial index of them
#   (``ix_documents_trashed``) instead of a look-up in ``documents`` per match; every search
#   row has its document (a cascading foreign key), so the rule is still
#   ``documents.deleted_at IS NULL``;
# - the planner does not know the query's words, so it estimates them selective and reads the
#   GIN index: right for rare words, and no dearer than a table scan for common ones (whose
#   cost is ranking every match). No planner settings, no planning per search once the
#   prepared statement has a generic plan.
# Angle brackets become spaces as in the stored vector; replace() gives what translate() did,
# about three times faster.
_PG_QUERY = "(SELECT to_tsquery('simple', :tsquery))"
_POSTGRESQL = text(
    f"""
    WITH ranked AS (
        SELECT sd.id, sd.document_id, ts_rank_cd(sd.search_vector, {_PG_QUERY}) AS rank
        FROM search_documents AS sd
        WHERE sd.search_vector @@ {_PG_QUERY}
          AND sd.workspace_id = :workspace_id
          AND NOT EXISTS (SELECT 1 FROM documents AS t
                          WHERE t.id = sd.document_id AND t.deleted_at IS NOT NULL)
        ORDER BY rank DESC, sd.document_id
        LIMIT :limit OFFSET :offset
    )
    SELECT r.document_id AS document_id, d.title AS title,
           ts_headline('simple',
                       replace(replace(left(coalesce(sd.body, d.content), 100000),
                                       '<', ' '), '>', ' '),
                       {_PG_QUERY},
                       'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=24, MinWords=8, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet,
           left(coalesce(sd.body, d.content), 200) AS head
    FROM ranked AS r
    JOIN search_documents AS sd ON sd.id = r.id
    JOIN documents AS d ON d.id = r.document_id
    ORDER BY r.rank DESC, r.document_id
    """  # noqa: S608 - only constant markers are formatted in
).bindparams(bindparam("workspace_id", type_=Uuid))


async def search(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    query: str,
    *,
    limit: int = 20,
    offset: int = 0,
) -> list[Hit]:
    words = terms(query)
    if not words:
        return []
    params = {"workspace_id": workspace_id, "limit": limit, "offset": offset}
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
        stmt = _POSTGRESQL.bindparams(tsquery=tsquery, **params)
    else:
        match = " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])
        stmt = _SQLITE.bindparams(match=match, **params)
    rows = (await session.execute(stmt)).all()
    return [
        Hit(
            document_id=row.document_id
            if isinstance(row.document_id, uuid.UUID)
            else uuid.UUID(str(row.document_id)),
            title=row.title,
            snippet=_snippet(row.snippet, row.head or ""),
        )
        for row in rows
    ]
