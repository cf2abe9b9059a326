"""Full-text search: SQLite FTS5 or PostgreSQL tsvector, the same answers from both.

``index`` keeps a document's searchable text current; it is called wherever the text or the
title changes (creation, REST writes, restore, import, and compaction of live edits).
``search`` ranks a workspace's documents and returns an HTML-escaped snippet per hit with the
matched words in ``<mark>``.
"""

from __future__ import annotations

import contextlib
import html
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import SearchDocument

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
    """Insert or replace the searchable title and text of one document."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "document_id": document_id,
        "workspace_id": workspace_id,
        "title": title,
        "body": body,
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


_SQLITE = text(
    f"""
    SELECT sd.document_id AS document_id, d.title AS title,
           snippet(search_fts, -1, '{_OPEN}', '{_CLOSE}', '…', 24) AS snippet,
           substr(sd.body, 1, 200) AS head
    FROM search_fts
    JOIN search_documents AS sd ON sd.id = search_fts.rowid
    JOIN documents AS d ON d.id = sd.document_id
    WHERE search_fts MATCH :match AND sd.workspace_id = :workspace_id
      AND d.deleted_at IS NULL
    ORDER BY bm25(search_fts, 10.0, 1.0)
    LIMIT :limit OFFSET :offset
    """  # noqa: S608 - only constant markers are formatted in
).bindparams(bindparam("workspace_id", type_=Uuid))

# Rank and page first, then build headlines only for the page (ts_headline re-parses text).
# The query is written out in each place (not a CTE) so the planner sees a constant it can
# match against the GIN index.
_POSTGRESQL = text(
    f"""
    WITH ranked AS (
        SELECT sd.document_id, sd.body,
               ts_rank_cd(sd.search_vector, to_tsquery('simple', :tsquery)) AS rank
        FROM search_documents AS sd
        JOIN documents AS d ON d.id = sd.document_id
        WHERE sd.search_vector @@ to_tsquery('simple', :tsquery)
          AND sd.workspace_id = :workspace_id AND d.deleted_at IS NULL
        ORDER BY rank DESC, sd.document_id
        LIMIT :limit OFFSET :offset
    )
    SELECT r.document_id AS document_id, d.title AS title,
           ts_headline('simple', translate(left(r.body, 100000), '<>', '  '),
                       to_tsquery('simple', :tsquery),
                       'StartSel={_OPEN}, StopSel={_CLOSE}, MaxWords=24, MinWords=8, '
                       'MaxFragments=2, FragmentDelimiter=" … "') AS snippet,
           left(r.body, 200) AS head
    FROM ranked AS r
    JOIN documents AS d ON d.id = r.document_id
    ORDER BY r.rank DESC, r.document_id
    """  # noqa: S608 - only constant markers are formatted in
).bindparams(bindparam("workspace_id", type_=Uuid))
# Two planner settings for the search query, made for the connection and restored right
# after (read sessions may run in autocommit mode, where SET LOCAL would not reach it):
# - random_page_cost 1.1 (the usual value for SSDs; the default 4 is for spinning disks)
#   lets the planner use the GIN index for selective queries instead of reading the table;
# - custom plans: the driver prepares statements, and a generic plan cannot tell a rare word
#   from a common one, so it would read the whole table every time.
_PG_PLANNER = text(
    "SELECT set_config('random_page_cost', '1.1', false), "
    "set_config('plan_cache_mode', 'force_custom_plan', false)"
)
_PG_PLANNER_RESET = text(
    "SELECT set_config(name, reset_val, false) FROM pg_settings "
    "WHERE name IN ('random_page_cost', 'plan_cache_mode')"
)


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
        await session.execute(_PG_PLANNER)
        try:
            rows = (await session.execute(stmt)).all()
        except BaseException:
            with contextlib.suppress(Exception):  # an aborted transaction undoes SET anyway
                await session.execute(_PG_PLANNER_RESET)
            raise
        await session.execute(_PG_PLANNER_RESET)
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
