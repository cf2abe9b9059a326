"""Documents: the tree (positions, moves without cycles), trash, and content through Yjs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Services
from mdreader.db.engine import after_commit
from mdreader.db.models import Document, DocumentUpdate, DocumentVersion, SearchDocument
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import notifications, search
from mdreader.ytext import (
    TEXT_NAME,
    TITLE_NAME,
    apply_texts,
    column_title,
    make_doc,
    seed_content,
    seed_title,
    text_of,
    title_of,
)

log = logging.getLogger("mdreader.documents")


def check_size(services: Services, content: str) -> None:
    limit = services.settings.max_document_bytes
    if len(content.encode()) > limit:
        raise AppError(413, f"A document can hold at most {limit} bytes of Markdown.", "too_large")


async def pending_updates(session: AsyncSession, document_id: uuid.UUID) -> list[bytes]:
    rows = await session.scalars(
        select(DocumentUpdate.data)
        .where(DocumentUpdate.document_id == document_id)
        .order_by(DocumentUpdate.id)
    )
    return list(rows)


# Built once; a read binds the id. `pending`: are there updates not yet compacted?
TEXTS_AND_PENDING = select(
    Document.title,
    Document.content,
    select(DocumentUpdate.id)
    .where(DocumentUpdate.document_id == bindparam("document_id"))
    .exists()
    .label("pending"),
).where(Document.id == bindparam("document_id"))


async def live_texts(session: AsyncSession, document_id: uuid.UUID) -> tuple[str, str]:
    """The title and Markdown including every acknowledged update not yet compacted.

    Usually nothing is pending and the compacted columns are read as they are; the Yjs state
    is loaded only when there are updates to fold in.
    """
    row = (await session.execute(TEXTS_AND_PENDING, {"document_id": document_id})).first()
    if row is None:
        return "", ""
    if not row.pending:
        return row.title, row.content or ""
    state = await session.scalar(select(Document.ystate).where(Document.id == document_id))
    updates = await pending_updates(session, document_id)
    doc = make_doc(state or b"", updates, title=row.title, content=row.content)
    return column_title(title_of(doc)), text_of(doc)


async def live_content(session: AsyncSession, document_id: uuid.UUID) -> str:
    """The Markdown including every acknowledged update not yet compacted."""
    return (await live_texts(session, document_id))[1]


async def parent_in(
    session: AsyncSession, workspace_id: uuid.UUID, parent_id: uuid.UUID | None
) -> None:
    if parent_id is None:
        return
    parent = await session.get(Document, parent_id)
    if parent is None or parent.workspace_id != workspace_id or parent.deleted_at is not None:
        raise AppError(404, "The parent document was not found in this workspace.", "not_found")


async def _siblings(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    exclude: uuid.UUID | None,
) -> list[Document]:
    stmt = select(Document).where(
        Document.workspace_id == workspace_id,
        Document.deleted_at.is_(None),
        Document.parent_id.is_(None) if parent_id is None else Document.parent_id == parent_id,
    )
    rows = list(await session.scalars(stmt.order_by(Document.position, Document.created_at)))
    return [d for d in rows if d.id != exclude]


async def create_document(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID | None,
    title: str,
    content: str = "",
    parent_id: uuid.UUID | None = None,
) -> Document:
    check_size(services, content)
    await parent_in(session, workspace_id, parent_id)
    if parent_id is not None:
        check_depth(services, level_of(await tree_of(session, workspace_id), parent_id) + 1)
    siblings = await _siblings(session, workspace_id, parent_id, None)
    now = utcnow()
    document = Document(
        workspace_id=workspace_id,
        parent_id=parent_id,
        title=title.strip() or "Untitled",
        position=(siblings[-1].position + 1) if siblings else 0,
        content=content,
        ystate=b"",  # seeded from the content when first needed (see ytext)
        created_by=user_id,
        updated_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(document)
    await session.flush()
    await search.index(session, document.id, workspace_id, document.title, content)
    if content:
        # The first version: what the document was created with (import, or a REST create),
        # by reference to the content column (see services.versions).
        session.add(
            DocumentVersion(
                document_id=document.id,
                title=document.title,
                content=None,
                author_id=user_id,
                created_at=now,
            )
        )
    # The creator follows it; people mentioned in what it starts with are told.
    await notifications.on_document_change(services, session, document, "", content, [user_id])
    return document


async def tree_of(
    session: AsyncSession, workspace_id: uuid.UUID, *, live: bool = False
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Every document's parent (``live``: only the documents not in the trash)."""
    query = select(Document.id, Document.parent_id).where(Document.workspace_id == workspace_id)
    if live:
        query = query.where(Document.deleted_at.is_(None))
    rows = await session.execute(query)
    return {row.id: row.parent_id for row in rows}


def level_of(tree: dict[uuid.UUID, uuid.UUID | None], node: uuid.UUID | None) -> int:
    """How deep ``node`` sits: 1 for a top-level document, 0 for no document (the top)."""
    level, seen = 0, set()
    while node is not None and node not in seen:
        seen.add(node)
        level += 1
        node = tree.get(node)
    return level


def height_of(tree: dict[uuid.UUID, uuid.UUID | None], root: uuid.UUID) -> int:
    """Levels of the subtree under ``root``, itself included (1 for a leaf)."""
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for node, parent in tree.items():
        children.setdefault(parent, []).append(node)
    height, level, seen = 0, [root], {root}
    while level:
        height += 1
        level = [c for n in level for c in children.get(n, ()) if c not in seen]
        seen.update(level)
    return height


def check_depth(services: Services, levels: int) -> None:
    """Refuse a tree deeper than ``MDREADER_MAX_TREE_DEPTH`` levels (422)."""
    limit = services.settings.max_tree_depth
    if levels > limit:
        raise AppError(
            422,
            f"Documents can nest at most {limit} levels deep; this would make {levels}.",
            "too_deep",
        )


def descendants(tree: dict[uuid.UUID, uuid.UUID | None], root: uuid.UUID) -> set[uuid.UUID]:
    children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
    for node, parent in tree.items():
        children.setdefault(parent, []).append(node)
    found: set[uuid.UUID] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


async def move_document(
    services: Services,
    session: AsyncSession,
    document: Document,
    parent_id: uuid.UUID | None,
    position: int | None,
) -> None:
    """Place the document under ``parent_id`` at sibling index ``position`` (end if None)."""
    if parent_id is not None:
        if parent_id == document.id:
            raise AppError(409, "A document cannot be its own parent.", "cycle")
        await parent_in(session, document.workspace_id, parent_id)
        tree = await tree_of(session, document.workspace_id)
        if parent_id in descendants(tree, document.id):
            raise AppError(409, "A document cannot move under one of its own descendants.", "cycle")
        if parent_id != document.parent_id:
            shown = await tree_of(session, document.workspace_id, live=True)
            check_depth(services, level_of(shown, parent_id) + height_of(shown, document.id))
    siblings = await _siblings(session, document.workspace_id, parent_id, document.id)
    index = len(siblings) if position is None else min(position, len(siblings))
    siblings.insert(index, document)
    document.parent_id = parent_id
    for i, sibling in enumerate(siblings):
        if sibling.position != i:
            sibling.position = i


@dataclass(frozen=True, slots=True)
class Written:
    """What a write left: the logged update (None: nothing changed) and the live texts."""

    update: bytes | None
    title: str
    content: str


async def write_texts(
    services: Services,
    session: AsyncSession,
    document: Document,
    user_id: uuid.UUID | None,
    *,
    content: str | None = None,
    title: str | None = None,
) -> Written | None:
    """Apply ``content`` and ``title`` as minimal diffs to the live Y.Texts and log the
    update; the title column follows at once (search, the tree and export read it).
    None when neither is given."""
    texts = {}
    if content is not None:
        check_size(services, content)
        texts[TEXT_NAME] = content
    if title is not None:
        texts[TITLE_NAME] = title
    if not texts:
        return None
    updates = await pending_updates(session, document.id)
    ydoc = make_doc(document.ystate, updates)
    stored = ydoc.get_state()
    # A document from before live titles, or stored without a state, is seeded (see ytext).
    # A title write logs the seed with it, since the title column follows at once; a text
    # write leaves it out (the columns it comes from stay until compaction stores it).
    seed_title(ydoc, document.title, seed_content(document.ystate, document.content))
    update_bytes = apply_texts(ydoc, texts, since=stored if title is not None else None)
    written = Written(update_bytes, column_title(title_of(ydoc)), text_of(ydoc))
    if update_bytes is None:
        return written
    if title is not None:
        document.title = column_title(title_of(ydoc))
    session.add(DocumentUpdate(document_id=document.id, data=update_bytes, user_id=user_id))
    collab = services.collab
    if collab is not None:
        # Once committed, open editors (in this process and, over the bus, in others) get it.
        document_id = document.id
        after_commit(session, lambda: collab.external_update(document_id, update_bytes))
    return written


async def write_content(
    services: Services,
    session: AsyncSession,
    document: Document,
    content: str,
    user_id: uuid.UUID | None,
) -> bytes | None:
    """Apply ``content`` as a minimal diff to the live Y.Text and log the update (returned,
    None when nothing changed)."""
    written = await write_texts(services, session, document, user_id, content=content)
    return written.update if written is not None else None


async def trash(session: AsyncSession, document: Document) -> None:
    """To the trash with every descendant, all stamped with the same moment."""
    now = utcnow()
    tree = await tree_of(session, document.workspace_id)
    ids = descendants(tree, document.id) | {document.id}
    await session.execute(
        update(Document)
        .where(Document.id.in_(ids), Document.deleted_at.is_(None))
        .values(deleted_at=now)
    )


async def restore(services: Services, session: AsyncSession, document: Document) -> None:
    """Out of the trash with what was trashed with it, back at its old place in the tree
    (under the same parent, at the same position among its siblings, if they still exist)."""
    if document.deleted_at is None:
        raise AppError(409, "This document is not in the trash.", "not_in_trash")
    stamp: datetime = document.deleted_at
    tree = await tree_of(session, document.workspace_id)
    ids = descendants(tree, document.id) | {document.id}
    rows = await session.scalars(select(Document).where(Document.id.in_(ids)))
    for doc in rows:
        if doc.deleted_at == stamp:
            doc.deleted_at = None
    parent_id = document.parent_id
    if parent_id is not None:
        parent = await session.get(Document, parent_id)
        if parent is None or parent.deleted_at is not None:
            parent_id = None
        else:
            # Its old place may have moved deeper meanwhile: then it comes back at the top.
            shown = await tree_of(session, document.workspace_id, live=True)
            levels = level_of(shown, parent_id) + height_of(tree, document.id)
            if levels > services.settings.max_tree_depth:
                parent_id = None
    await move_document(services, session, document, parent_id, document.position)


async def delete_forever(session: AsyncSession, document: Document) -> None:
    """Remove a trashed document for good, with what was trashed with it (its text, log,
    versions, share links and search entry go with it)."""
    if document.deleted_at is None:
        raise AppError(409, "Only a document in the trash can be deleted for good.", "not_in_trash")
    tree = await tree_of(session, document.workspace_id)
    ids = descendants(tree, document.id) | {document.id}
    rows = list(await session.scalars(select(Document).where(Document.id.in_(ids))))
    doomed = {d.id for d in rows if d.deleted_at == document.deleted_at}
    await session.execute(delete(SearchDocument).where(SearchDocument.document_id.in_(doomed)))
    await session.execute(delete(Document).where(Document.id.in_(doomed)))


@dataclass(eq=False)
class Edit:
    """One PATCH of a document: what it sets (None: unchanged) and who made it."""

    document_id: uuid.UUID
    user_id: uuid.UUID
    title: str | None = None
    content: str | None = None
    move: bool = False  # place it: under parent_id (if reparent, else where it is) at position
    reparent: bool = False
    parent_id: uuid.UUID | None = None
    position: int | None = None
    done: asyncio.Future[tuple[Document, str, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EditQueue:
    """Group commit for document edits. Concurrent PATCHes share one transaction and one
    commit: one write turn and one fsync instead of one each, which is what bounds writes on
    SQLite (one writer at a time) and saves round trips on PostgreSQL.

    Edits of the same document in one batch apply in arrival order; its text is diffed into
    the Yjs log once, from the last text given, and it is re-indexed once. Every edit of the
    batch is answered with the document as committed. An edit that fails on its own (a move
    that would make a cycle, a document trashed meanwhile) fails alone. If the transaction
    fails because of one edit's data, each edit is retried in a transaction of its own; if
    the database itself is the trouble (busy, unreachable), the whole batch fails at once.

    SQLite takes one writer at a time, so all documents share one queue. PostgreSQL locks
    rows, so each document has its own queue: a document locked elsewhere (another worker,
    the compactor) holds up only the edits of that document.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self._per_document = services.db.dialect == "postgresql"
        self._queues: dict[uuid.UUID | None, list[Edit]] = {}
        self._tasks: dict[uuid.UUID | None, asyncio.Task[None]] = {}

    async def submit(self, edit: Edit) -> tuple[Document, str, str]:
        """Queue the edit; returns the document (detached), its live title and live text
        once committed."""
        if edit.content is not None:
            check_size(self.services, edit.content)
        key = edit.document_id if self._per_document else None
        self._queues.setdefault(key, []).append(edit)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._drain(key), name="mdreader-document-edits")
        # shield: a client that goes away does not cancel the batch the edit is part of.
        return await asyncio.shield(edit.done)

    async def _drain(self, key: uuid.UUID | None) -> None:
        try:
            # One turn of the event loop first: requests already parsed and waiting their
            # turn join this batch instead of the next one (microseconds when idle).
            await asyncio.sleep(0)
            while batch := self._queues.pop(key, None):
                await self._commit_batch(batch)
        finally:
            self._tasks.pop(key, None)
            if self._queues.get(key):  # came in as this task was ending
                self._tasks[key] = asyncio.create_task(
                    self._drain(key), name="mdreader-document-edits"
                )

    async def _commit_batch(self, batch: list[Edit]) -> None:
        try:
            await self._commit(batch)
            return
        except Exception as exc:
            log.warning("a batch of %d document edits failed", len(batch), exc_info=True)
            if len(batch) == 1 or _database_trouble(exc):
                for edit in batch:
                    _fail(edit, exc)
                return
        for edit in batch:
            if edit.done.done():
                continue
            try:
                await self._commit([edit])
            except Exception as alone:
                _fail(edit, alone)

    async def _commit(self, batch: list[Edit]) -> None:
        services = self.services
        by_document: dict[uuid.UUID, list[Edit]] = {}
        for edit in batch:
            by_document.setdefault(edit.document_id, []).append(edit)
        results: dict[uuid.UUID, tuple[Document, str, str]] = {}
        changed: set[uuid.UUID] = set()
        logged: list[uuid.UUID] = []
        async with services.db.session() as session:
            for document_id, edits in by_document.items():
                document = await session.get(
                    Document, document_id, with_for_update=services.db.dialect == "postgresql"
                )
                if document is None or document.deleted_at is not None:
                    for edit in edits:
                        _fail(edit, AppError(404, "Document not found.", "not_found"))
                    continue
                was_changed, written = await self._apply(session, document, edits)
                if written is not None and written.update is not None:
                    logged.append(document_id)
                if was_changed:
                    changed.add(document_id)
                # The texts the write just built, else as stored (the Yjs state is loaded
                # once per document and batch).
                title, content = (
                    (written.title, written.content)
                    if written is not None
                    else await live_texts(session, document_id)
                )
                results[document_id] = (document, title, content)
            for document_id, (document, title, content) in results.items():
                if document_id in changed:
                    await search.index(session, document_id, document.workspace_id, title, content)
        if services.compactor is not None:
            for document_id in logged:
                services.compactor.schedule(document_id)
        for edit in batch:
            if edit.document_id in results and not edit.done.done():
                edit.done.set_result(results[edit.document_id])

    async def _apply(
        self, session: AsyncSession, document: Document, edits: list[Edit]
    ) -> tuple[bool, Written | None]:
        """Apply one document's edits in order: (changed at all, what the text write left)."""
        # Who changed it last, in arrival order: (position in the batch, user).
        last: tuple[int, uuid.UUID] | None = None
        # The last title and the last text given, each with where it came and whose it was.
        texts: dict[str, tuple[int, str, uuid.UUID]] = {}
        for i, edit in enumerate(edits):
            if edit.move:
                try:
                    # Checks everything before it changes anything (no partial move).
                    parent_id = edit.parent_id if edit.reparent else document.parent_id
                    await move_document(self.services, session, document, parent_id, edit.position)
                except AppError as exc:
                    _fail(edit, exc)  # this edit fails whole: its title and text are skipped
                    continue
                last = (i, edit.user_id)
            title = edit.title.strip() if edit.title is not None else ""
            if title:
                texts["title"] = (i, title, edit.user_id)
            if edit.content is not None:
                texts["content"] = (i, edit.content, edit.user_id)
        written = None
        if texts:
            i, _, user_id = max(texts.values())
            written = await write_texts(
                self.services,
                session,
                document,
                user_id,
                content=texts["content"][1] if "content" in texts else None,
                title=texts["title"][1] if "title" in texts else None,
            )
            if (
                written is not None
                and written.update is not None
                and (last is None or last[0] <= i)
            ):
                last = (i, user_id)
        if last is not None:
            document.updated_at = utcnow()
            document.updated_by = last[1]
        await session.flush()
        return last is not None, written


def _database_trouble(exc: BaseException) -> bool:
    """The database, not one edit, failed (busy, cut off, timed out): retrying the batch
    edit by edit would only wait the same timeouts once per edit."""
    from sqlalchemy import exc as sa

    from mdreader.db.engine import DatabaseBusy

    if getattr(exc, "connection_invalidated", False):
        return True
    return isinstance(
        exc,
        (
            DatabaseBusy,
            sa.OperationalError,
            sa.InterfaceError,
            sa.TimeoutError,
            ConnectionError,
            TimeoutError,
        ),
    )


def _fail(edit: Edit, exc: BaseException) -> None:
    if not edit.done.done():
        edit.done.set_exception(exc)
