"""Migrations run on the configured backend and match the models exactly."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import contextmanager

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pycrdt import Text
from sqlalchemy import Uuid, bindparam, column, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from support.scratch import scratch_postgres

from mdreader import ytext
from mdreader.db import Base, migrate
from mdreader.db.migrations import migrations_dir
from mdreader.db.models import (
    Document,
    DocumentUpdate,
    DocumentVersion,
    SearchDocument,
    Workspace,
    include_name,
)
from mdreader.db.types import utcnow
from mdreader.services import search
from tests.api.test_search import _PLAIN_POSTGRESQL
from tests.conftest import BACKEND, PG_ADMIN_URL


async def test_models_match_migrations(database_url):
    engine = create_async_engine(database_url)

    def diff(conn):
        return compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata
        )

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], f"models and migrations differ: {changes}"


def test_migrate_is_idempotent_and_reversible(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    migrate(url)
    migrate(url, "base")
    migrate(url)


# --- 41fda1b41d6b: search speed --------------------------------------------------------------
SEARCH_SPEED = "41fda1b41d6b"


def _alembic(url: str, command_name: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = url
    getattr(command, command_name)(cfg, revision)


@contextmanager
def _scratch_database(tmp_path):
    if BACKEND != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    with scratch_postgres(PG_ADMIN_URL) as url:
        yield url


FIRST_WORKSPACE_COLUMNS = ("id", "name", "created_at", "updated_at")


async def _fill(url: str) -> tuple[uuid.UUID, list[str]]:
    """A workspace with searchable documents, one trashed, written under the old schema."""
    engine = create_async_engine(url)
    ws = uuid.uuid4()
    try:
        async with AsyncSession(engine) as session, session.begin():
            # The columns every schema since the first has (not the model's, which grows).
            cols = Workspace.__table__.c
            old = table("workspaces", *(column(c, cols[c].type) for c in FIRST_WORKSPACE_COLUMNS))
            now = utcnow()
            await session.execute(
                insert(old).values(id=ws, name="Old", created_at=now, updated_at=now)
            )
            for i in range(6):
                doc = Document(
                    workspace_id=ws,
                    title=f"Walrus {i}" if i % 2 else f"Note {i}",
                    content=" ".join(["walrus"] * (i + 1) + ["tusk"] * 40) + " <b>x</b>",
                    deleted_at=utcnow() if i == 3 else None,
                )
                session.add(doc)
                await session.flush()
                # What search.index wrote under these schemas: a copy of the text.
                await session.execute(
                    insert(SearchDocument).values(
                        document_id=doc.id, workspace_id=ws, title=doc.title, body=doc.content
                    )
                )
    finally:
        await engine.dispose()
    return ws, ["walrus", "tusk walr", "note"]


# How PostgreSQL searched while each entry stored its vector (before d2a7c5e9f104, whose
# search reads none): the migrations before it are checked with the search of their time.
_STORED_VECTORS = text(
    _PLAIN_POSTGRESQL.replace(
        "search_vector_of(sd.title, coalesce(sd.body, d.content))", "sd.search_vector"
    )
    + " LIMIT 20"
).bindparams(bindparam("ws", type_=Uuid))


async def _stored_vectors(session: AsyncSession, ws: uuid.UUID, q: str) -> list[search.Hit]:
    words = search.terms(q)
    tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
    rows = await session.execute(_STORED_VECTORS, {"ws": ws, "tsquery": tsquery})
    return [search.Hit(r[0], r[1], search._snippet(r[2], r[3] or "")) for r in rows]


async def _answers(url: str, ws: uuid.UUID, queries: list[str]) -> list[list[search.Hit]]:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            stored = BACKEND == "postgresql" and await session.scalar(
                text(
                    "SELECT count(*) FROM pg_attribute WHERE attname = 'search_vector' "
                    "AND attrelid = 'search_documents'::regclass AND NOT attisdropped"
                )
            )
            find = _stored_vectors if stored else search.search
            return [await find(session, ws, q) for q in queries]
    finally:
        await engine.dispose()


async def _postgresql_layout(url: str) -> tuple[str, list[str] | None]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            storage = await conn.scalar(
                text(
                    "SELECT attstorage::text FROM pg_attribute WHERE attname = 'search_vector' "
                    "AND attrelid = 'search_documents'::regclass"
                )
            )
            options = await conn.scalar(
                text("SELECT reloptions FROM pg_class WHERE relname = 'ix_search_documents_vector'")
            )
    finally:
        await engine.dispose()
    return storage, options


def test_search_speed_migration_keeps_what_search_answers(tmp_path):
    """Over a database that already holds documents: search answers exactly as before the
    migration (trashed documents still left out), and after a downgrade and upgrade again; on
    PostgreSQL the vectors are kept in the row and the GIN pending list is capped."""
    previous = ScriptDirectory(str(migrations_dir())).get_revision(SEARCH_SPEED).down_revision
    assert isinstance(previous, str)
    with _scratch_database(tmp_path) as url:
        migrate(url, previous)
        ws, queries = asyncio.run(_fill(url))
        before = asyncio.run(_answers(url, ws, queries))
        assert [len(hits) for hits in before] == [5, 5, 3]
        migrate(url, SEARCH_SPEED)
        assert asyncio.run(_answers(url, ws, queries)) == before
        if BACKEND == "postgresql":
            assert asyncio.run(_postgresql_layout(url)) == ("m", ["gin_pending_list_limit=256"])
        _alembic(url, "downgrade", previous)
        if BACKEND == "postgresql":
            assert asyncio.run(_postgresql_layout(url)) == ("x", None)
        assert asyncio.run(_answers(url, ws, queries)) == before
        migrate(url)
        assert asyncio.run(_answers(url, ws, queries)) == before


# --- c4f9a2e6b813: the text stored once ------------------------------------------------------
TEXT_ONCE = "c4f9a2e6b813"


async def _versions_of(url: str, ws: uuid.UUID, add: bool = False) -> dict[str, str | None]:
    """Every version's stored content by title (``add``: first keep two versions of each
    document as the previous schema did, a copy of its text and an older text)."""
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            rows = (
                await session.execute(
                    text("SELECT id, title, content FROM documents WHERE workspace_id = :ws"),
                    {"ws": ws.hex if BACKEND != "postgresql" else ws},
                )
            ).all()
            if add:
                for row in rows:
                    for label, content in (("copy", row.content), ("older", "an older text")):
                        await session.execute(
                            insert(DocumentVersion).values(
                                document_id=uuid.UUID(str(row.id)),
                                title=f"{row.title} {label}",
                                content=content,
                                created_at=utcnow(),
                            )
                        )
            found = await session.execute(
                text("SELECT title, content FROM document_versions ORDER BY title")
            )
            return {r.title: r.content for r in found}
    finally:
        await engine.dispose()


async def _search_bodies(url: str) -> list[str | None]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            if BACKEND != "postgresql":  # the FTS5 index agrees with its content
                await conn.execute(
                    text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)")
                )
            return list(await conn.scalars(text("SELECT body FROM search_documents")))
    finally:
        await engine.dispose()


def test_text_once_migration_turns_copies_into_references(tmp_path):
    """Over a database that holds search copies and versions: search answers as before, the
    copies of a document's own text become references (and come back on a downgrade), the
    versions keep their texts."""
    previous = ScriptDirectory(str(migrations_dir())).get_revision(TEXT_ONCE).down_revision
    assert isinstance(previous, str)
    with _scratch_database(tmp_path) as url:
        migrate(url, previous)
        ws, queries = asyncio.run(_fill(url))
        copies = asyncio.run(_versions_of(url, ws, add=True))
        before = asyncio.run(_answers(url, ws, queries))
        assert [len(hits) for hits in before] == [5, 5, 3]
        migrate(url, TEXT_ONCE)
        assert asyncio.run(_answers(url, ws, queries)) == before
        assert asyncio.run(_search_bodies(url)) == [None] * 6
        stored = asyncio.run(_versions_of(url, ws))
        assert {t for t, c in stored.items() if c is None} == {t for t in copies if "copy" in t}
        assert {t: c for t, c in stored.items() if c is not None} == {
            t: c for t, c in copies.items() if "older" in t
        }
        _alembic(url, "downgrade", previous)
        assert asyncio.run(_versions_of(url, ws)) == copies
        assert None not in asyncio.run(_search_bodies(url))
        assert asyncio.run(_answers(url, ws, queries)) == before
        migrate(url)
        assert asyncio.run(_answers(url, ws, queries)) == before
        assert asyncio.run(_search_bodies(url)) == [None] * 6


async def _stateless_with_logged_seed(url: str, body: str) -> uuid.UUID:
    """A document stored without a state whose log holds the seed of its title of the time
    ("Meeting notes") and a later rename to "Notes" and an edit, as a REST edit of a stateless
    document logs them; the title column already says "Notes"."""
    engine = create_async_engine(url)
    ws = uuid.uuid4()
    try:
        async with AsyncSession(engine) as session, session.begin():
            cols = Workspace.__table__.c
            old = table("workspaces", *(column(c, cols[c].type) for c in FIRST_WORKSPACE_COLUMNS))
            now = utcnow()
            await session.execute(
                insert(old).values(id=ws, name="Seeds", created_at=now, updated_at=now)
            )
            doc = Document(workspace_id=ws, title="Notes", content=body, ystate=b"")
            session.add(doc)
            await session.flush()
            seed = ytext.seed_update("Meeting notes", body)
            live = ytext.make_doc(b"", [seed])
            before = live.get_state()
            title = live.get(ytext.TITLE_NAME, type=Text)
            with live.transaction():
                del title[0 : len("Meeting notes")]
                title.insert(0, "Notes")
                live.get(ytext.TEXT_NAME, type=Text).insert(len(body), "And one more line.\n")
            for data in (seed, live.get_update(before)):
                session.add(DocumentUpdate(document_id=doc.id, data=data))
            return doc.id
    finally:
        await engine.dispose()


async def _loaded_as_before(url: str, document_id: uuid.UUID) -> tuple[str, str]:
    """The title and text the previous release builds: the stored state, then the log."""
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            doc = await session.get(Document, document_id)
            assert doc is not None and doc.ystate
            logged = await session.scalars(
                select(DocumentUpdate.data)
                .where(DocumentUpdate.document_id == document_id)
                .order_by(DocumentUpdate.id)
            )
            live = ytext.make_doc(doc.ystate, list(logged))
            return ytext.title_of(live), ytext.text_of(live)
    finally:
        await engine.dispose()


def test_text_once_downgrade_keeps_a_seed_already_in_the_log(tmp_path):
    """A downgrade gives a stateless document the state it had live: a seed already in its
    log wins over one made anew from the columns (the two would clash: same ids, other text)."""
    previous = ScriptDirectory(str(migrations_dir())).get_revision(TEXT_ONCE).down_revision
    assert isinstance(previous, str)
    body = "First line of the body.\n"
    with _scratch_database(tmp_path) as url:
        migrate(url, TEXT_ONCE)
        document_id = asyncio.run(_stateless_with_logged_seed(url, body))
        _alembic(url, "downgrade", previous)
        assert asyncio.run(_loaded_as_before(url, document_id)) == (
            "Notes",
            body + "And one more line.\n",
        )


# --- d2a7c5e9f104: the search index only ----------------------------------------------------
INDEX_ONLY = "d2a7c5e9f104"


async def _index_layout(url: str) -> dict[str, object]:
    """What holds the search index: on PostgreSQL whether entries store vectors and which
    GIN indexes there are; on SQLite the FTS5 table's definition."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            if BACKEND != "postgresql":
                await conn.execute(
                    text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)")
                )
                sql = await conn.scalar(
                    text("SELECT sql FROM sqlite_schema WHERE name = 'search_fts'")
                )
                return {"detail=column": "detail=column" in sql}
            stored = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_attribute WHERE attname = 'search_vector' "
                    "AND attrelid = 'search_documents'::regclass AND NOT attisdropped"
                )
            )
            gin = await conn.scalars(
                text(
                    "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gin%' "
                    "ORDER BY indexname"
                )
            )
            return {"stored": bool(stored), "gin": list(gin)}
    finally:
        await engine.dispose()


async def _edited_live(url: str, ws: uuid.UUID) -> None:
    """Entries as the previous schema has them: references to their documents' texts, but
    between a REST write and compaction one with a text of its own and one whose title is not
    the document's yet."""
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(SearchDocument.__table__.update().values(body=None))
            entries = (
                await session.execute(
                    select(SearchDocument.id, SearchDocument.title)
                    .where(SearchDocument.workspace_id == ws)
                    .order_by(SearchDocument.title)
                )
            ).all()
            own_text, renamed = entries[0], entries[1]
            await session.execute(
                SearchDocument.__table__.update()
                .where(SearchDocument.id == own_text.id)
                .values(body="walrus written over REST, not compacted")
            )
            await session.execute(
                SearchDocument.__table__.update()
                .where(SearchDocument.id == renamed.id)
                .values(title="Renamed walrus")
            )
    finally:
        await engine.dispose()


def test_index_only_migration_keeps_what_search_answers(tmp_path):
    """Over a database with search entries that refer to their documents, one with a text of
    its own and one renamed: search answers as before with no vector stored (PostgreSQL) and
    no word positions (SQLite), and again after a downgrade (which stores them again)."""
    previous = ScriptDirectory(str(migrations_dir())).get_revision(INDEX_ONLY).down_revision
    assert isinstance(previous, str)
    with _scratch_database(tmp_path) as url:
        migrate(url, previous)
        ws, queries = asyncio.run(_fill(url))
        asyncio.run(_edited_live(url, ws))
        queries = [*queries, "renamed", "compacted walrus"]
        before = asyncio.run(_answers(url, ws, queries))
        assert [len(hits) for hits in before] == [5, 4, 2, 1, 1]
        old_layout = asyncio.run(_index_layout(url))
        migrate(url, INDEX_ONLY)
        assert asyncio.run(_answers(url, ws, queries)) == before
        if BACKEND == "postgresql":
            assert asyncio.run(_index_layout(url)) == {
                "stored": False,
                "gin": ["ix_documents_search", "ix_search_documents_pending"],
            }
        else:
            assert asyncio.run(_index_layout(url)) == {"detail=column": True}
        _alembic(url, "downgrade", previous)
        assert asyncio.run(_index_layout(url)) == old_layout
        assert asyncio.run(_answers(url, ws, queries)) == before
        migrate(url)
        assert asyncio.run(_answers(url, ws, queries)) == before
