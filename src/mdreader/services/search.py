"""Full-text search: SQLite FTS5 or PostgreSQL tsvector, the same answers from both.

``index`` keeps a document's searchable text current; it is called wherever the text or the
title changes (creation, REST writes, restore, import, and compaction of live edits).
``search`` ranks a workspace's documents and returns an HTML-escaped snippet per hit with the
matched words in ``<mark>``.

The text is not copied when it is the document's own: ``search_documents.body`` is NULL when
it and the entry's title equal ``documents.content`` and ``.title`` (an import, a creation,
every compaction), and holds the live text only between a REST write and the compaction that
brings the columns up to it. The full-text index holds no copy either (migration
d2a7c5e9f104): on SQLite the FTS5 table (``detail=column``, no word positions) is fed by
triggers from the view ``search_content`` over ``coalesce(body, documents.content)``; on
PostgreSQL GIN indexes over the expression ``search_vector_of(title, text)`` of
``documents`` and of the entries with a text of their own, no stored vector.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Text, Uuid, and_, bindparam, case, literal, null, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import Document, SearchDocument

MAX_TERMS = 16
# Private-use characters mark the hits inside snippets; they are turned into <mark> after
# the snippet is escaped, so nothing from the document can become markup.
_OPEN, _CLOSE = "\ue000", "\ue001"
# Letters and digits: what both databases' tokenizers keep together (an underscore splits a
# word there, and a quoted run of several tokens would be a phrase).
_TERM = re.compile(r"[^\W_]+", re.UNICODE)


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
    NULL when it and the title are the document's columns)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.flush()  # the content column as this transaction has it
    own = select(Document.content).where(Document.id == document_id).scalar_subquery()
    own_title = select(Document.title).where(Document.id == document_id).scalar_subquery()
    values = {
        "document_id": document_id,
        "workspace_id": workspace_id,
        "title": title,
        "body": case((and_(own == body, own_title == title), null()), else_=literal(body, Text)),
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


# Ranking reads each match's text again (FTS5 finds the positions of the words in it on
# SQLite, PostgreSQL computes its vector: neither is stored, see migration d2a7c5e9f104), so
# it is bounded: the matches are taken in the order the index yields them cheaply, in blocks
# of ``BLOCK``, and ranked within their block; the page is a slice of that order, and paging
# reaches every match. Up to ``BLOCK`` matches that is the plain ranking of every match;
# beyond, the first block holds the newest matches on SQLite (the highest row ids: the
# documents indexed last), on PostgreSQL the first the index finds. A block is a page: ranking
# one costs about what the page's snippets cost (each reads its text once more).
BLOCK = 20

# One block: the visible matches (this workspace, not trashed) in row id order, newest
# first, skipping the blocks before it; then FTS5 ranks the matches within their row ids
# with its ``rank`` column (bm25, the title weighted 10 to 1, set for this query only),
# finding the positions from the text of just those rows, and SQLite reads them in rank
# order, joining documents and building ``snippet()`` for the rows of the page only.
_SQLITE = text(
    f"""
    WITH candidates AS MATERIALIZED (
        SELECT search_fts.rowid AS id
        FROM search_fts
        JOIN search_documents AS sd ON sd.id = search_fts.rowid
        JOIN documents AS d ON d.id = sd.document_id
        WHERE search_fts MATCH :match
          AND sd.workspace_id = :workspace_id AND d.deleted_at IS NULL
        ORDER BY search_fts.rowid DESC
        LIMIT :block OFFSET :skip
    )
    SELECT sd.document_id AS document_id, d.title AS title,
           snippet(search_fts, -1, '{_OPEN}', '{_CLOSE}', '…', 24) AS snippet,
           substr(coalesce(sd.body, d.content), 1, 200) AS head
    FROM search_fts
    JOIN search_documents AS sd ON sd.id = search_fts.rowid
    JOIN documents AS d ON d.id = sd.document_id
    WHERE search_fts MATCH :match AND search_fts.rank MATCH 'bm25(10.0, 1.0)'
      AND search_fts.rowid BETWEEN (SELECT min(id) FROM candidates)
                               AND (SELECT max(id) FROM candidates)
      AND sd.workspace_id = :workspace_id AND d.deleted_at IS NULL
    ORDER BY search_fts.rank
    LIMIT :limit OFFSET :offset
    """  # noqa: S608 - only constant markers are formatted in
).bindparams(bindparam("workspace_id", type_=Uuid))

# The matches come from two GIN expression indexes over ``search_vector_of`` (migration
# d2a7c5e9f104): the documents' own title and content, and the few search entries that hold
# a text of their own (a REST write until compaction), which the first leaves out. Those
# found are numbered in the order found, ranked with ``ts_rank_cd`` over their vector
# computed again, and given headlines for the page only. The query is parsed once per
# statement, in a sub-select (an InitPlan), not once per row: the driver prepares
# statements, and in a generic plan to_tsquery(:tsquery) would be evaluated per row.
_PG_QUERY = "(SELECT to_tsquery('simple', :tsquery))"
# search_vector_of's vector for ranking, computed about twice as fast (replace() for
# translate(), and the text's words left at weight D, weighted as B here): the same ranks.
_PG_WEIGHTS = "'{0.4, 0.2, 0.4, 1.0}'::real[]"


def _pg_text(column: str, length: int | None = None) -> str:
    """``column`` (its first ``length`` characters) with angle brackets as spaces, as the
    stored vectors have it."""
    text = f"left({column}, {length})" if length else column
    return f"replace(replace({text}, '<', ' '), '>', ' ')"


_POSTGRESQL = text(
    f"""
    WITH found AS MATERIALIZED (
        (SELECT sd.document_id, sd.title, d.title AS shown, sd.body
         FROM search_documents AS sd
         JOIN documents AS d ON d.id = sd.document_id
         WHERE sd.body IS NOT NULL AND search_vector_of(sd.title, sd.body) @@ {_PG_QUERY}
           AND sd.workspace_id = :workspace_id AND d.deleted_at IS NULL)
        UNION ALL
        (SELECT d.id, d.title, d.title, d.content
         FROM documents AS d
         WHERE search_vector_of(d.title, d.content) @@ {_PG_QUERY}
           AND d.workspace_id = :workspace_id AND d.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM search_documents AS p
                           WHERE p.document_id = d.id AND p.body IS NOT NULL))
        LIMIT :candidates
    ), ranked AS (
        SELECT document_id, shown, body,
               (row_number() OVER () - 1) / :block AS block,
               ts_rank_cd({_PG_WEIGHTS},
                          setweight(to_tsvector('simple', {_pg_text("title")}), 'A')
                          || to_tsvector('simple', {_pg_text("body", 250000)}),
                          {_PG_QUERY}) AS rank
        FROM found
    ), page AS (
        SELECT * FROM ranked
        ORDER BY block, rank DESC, document_id
        LIMIT :limit OFFSET :offset
    )
    SELECT document_id, shown AS title,
           ts_headline('simple',
                       {_pg_text("body", 100000)},
                       {_PG_QUERY},
                       'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=24, MinWords=8, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet,
           left(body, 200) AS head
    FROM page
    ORDER BY block, rank DESC, document_id
    """  # noqa: S608 - only constants are formatted in
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
    block = BLOCK
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
        stmt = _POSTGRESQL.bindparams(
            tsquery=tsquery,
            workspace_id=workspace_id,
            limit=limit,
            offset=offset,
            block=block,
            candidates=-(-(offset + limit) // block) * block,  # every block the page reaches
        )
        rows = list((await session.execute(stmt)).all())
    else:
        match = " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])
        rows = []
        # Block by block, the part of each the page covers (mostly one).
        for k in range(offset // block, (offset + limit - 1) // block + 1):
            start = max(offset - k * block, 0)
            count = min(offset + limit - k * block, block) - start
            stmt = _SQLITE.bindparams(
                match=match,
                workspace_id=workspace_id,
                block=block,
                skip=k * block,
                limit=count,
                offset=start,
            )
            found = (await session.execute(stmt)).all()
            rows.extend(found)
            if len(found) < count:
                break
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
