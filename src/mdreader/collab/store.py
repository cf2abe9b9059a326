"""Durability: documents load from the database and updates are appended to their log.

Appends are group-committed: while one transaction is in flight, the updates that arrive
queue up and go together in the next one, so many clients cost few commits. An update's
``store`` returns only after its transaction committed; the background ``Compactor`` later
folds the log into the stored state and Markdown.

With several writers (PostgreSQL), each document belongs to one of them, so its appends
commit in the order they were applied: parallel transactions cannot put a later update of a
document in the log, visible, before an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from mdreader.collab.extensions import Extension, Origin
from mdreader.db.models import Document, DocumentUpdate
from mdreader.db.types import utcnow
from mdreader.ytext import seed_content, seed_title

if TYPE_CHECKING:
    from mdreader.collab.document import LiveDocument
    from mdreader.context import Backends
    from mdreader.services.compaction import Compactor

log = logging.getLogger("mdreader.collab.store")

# Core, not the ORM: one executemany per group commit, with no session or unit of work.
_APPEND = insert(DocumentUpdate.__table__)  # type: ignore[arg-type]

_Item = tuple[uuid.UUID, bytes, uuid.UUID | None, asyncio.Future[None]]


async def read_document(services: Backends, document_id: uuid.UUID) -> list[bytes]:
    """The stored state and every logged update after it, in order."""
    return (await read_stored(services, document_id))[0]


async def read_stored(services: Backends, document_id: uuid.UUID) -> tuple[list[bytes], str, str]:
    """The stored state and logged updates, the title column, and the content column when no
    state is stored (to seed a document from before live titles, or one stored as Markdown
    alone, see ytext)."""
    async with services.db.primary_read_session() as session:
        row = (
            await session.execute(
                select(Document.ystate, Document.title, Document.content).where(
                    Document.id == document_id
                )
            )
        ).first()
        state, title, content = (
            (row.ystate, row.title, seed_content(row.ystate, row.content))
            if row is not None
            else (b"", "", "")
        )
        rows = await session.scalars(
            select(DocumentUpdate.data)
            .where(DocumentUpdate.document_id == document_id)
            .order_by(DocumentUpdate.id)
        )
        updates = list(rows)
    return ([state] if state else []) + updates, title, content


class DatabaseStore(Extension):
    priority = 50

    def __init__(
        self, services: Backends, compactor: Compactor, writers: int = 1, batch: int = 500
    ) -> None:
        self.services = services
        self.compactor = compactor
        self.writers = writers
        self.batch = batch
        self._queues: list[list[_Item]] = [[] for _ in range(writers)]
        self._wakes = [asyncio.Event() for _ in range(writers)]
        self._tasks: list[asyncio.Task[None]] = []
        self._outstanding: dict[uuid.UUID, set[asyncio.Future[None]]] = defaultdict(set)

    async def __aenter__(self) -> DatabaseStore:
        self._tasks = [
            asyncio.create_task(self._writer(i), name=f"collab-store-{i}")
            for i in range(self.writers)
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Let queued appends finish: they may already be applied in memory.
        while any(self._queues) or any(self._outstanding.values()):
            pending = [f for fs in self._outstanding.values() for f in fs]
            if pending:
                await asyncio.wait(pending, timeout=5)
            else:
                await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def load(self, doc: LiveDocument) -> None:
        updates, title, content = await read_stored(self.services, doc.id)
        for update in updates:
            doc.apply(update)
        # The same seed on every server: kept in memory only.
        seed_title(doc.ydoc, title, content)

    async def store(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        if origin.source != "connection":
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        outstanding = self._outstanding[doc.id]
        outstanding.add(future)
        future.add_done_callback(lambda f: self._done(doc.id, f))
        writer = doc.id.int % self.writers
        self._queues[writer].append((doc.id, update, origin.user_id, future))
        self._wakes[writer].set()
        await asyncio.shield(future)

    def _done(self, document_id: uuid.UUID, future: asyncio.Future[None]) -> None:
        outstanding = self._outstanding.get(document_id)
        if outstanding is not None:
            outstanding.discard(future)
            if not outstanding:
                del self._outstanding[document_id]

    async def barrier(self, doc: LiveDocument) -> None:
        """Wait until every append of this document queued so far has committed."""
        pending = list(self._outstanding.get(doc.id, ()))
        if pending:
            results = await asyncio.gather(*pending, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def _writer(self, index: int) -> None:
        queue, wake = self._queues[index], self._wakes[index]
        while True:
            while not queue:
                wake.clear()
                await wake.wait()
            batch = queue[: self.batch]
            del queue[: self.batch]
            try:
                now = utcnow()
                await self.services.db.insert_many(
                    _APPEND,
                    [
                        {"document_id": d, "data": data, "user_id": u, "created_at": now}
                        for d, data, u, _ in batch
                    ],
                )
            except Exception as exc:
                log.exception("appending %d updates failed", len(batch))
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)
            for document_id in {d for d, *_ in batch}:
                self.compactor.schedule(document_id)
