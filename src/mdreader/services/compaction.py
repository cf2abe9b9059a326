"""Background compaction: fold a document's update log into its stored state and text."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from mdreader.db.models import Document, DocumentUpdate
from mdreader.services import search
from mdreader.ytext import make_doc, text_of

if TYPE_CHECKING:
    from mdreader.context import Services

log = logging.getLogger("mdreader.compaction")


async def compact(services: Services, document_id: uuid.UUID) -> int:
    """Merge the logged updates of one document; return how many were folded in."""
    async with services.db.session() as session:
        stmt = select(Document).where(Document.id == document_id)
        if services.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        doc = (await session.execute(stmt)).scalar_one_or_none()
        if doc is None:
            return 0
        rows = (
            await session.execute(
                select(DocumentUpdate.id, DocumentUpdate.data)
                .where(DocumentUpdate.document_id == document_id)
                .order_by(DocumentUpdate.id)
            )
        ).all()
        if not rows:
            return 0
        ydoc = make_doc(doc.ystate, (row.data for row in rows))
        doc.ystate = ydoc.get_update()
        content = text_of(ydoc)
        changed = content != doc.content
        if changed:
            doc.content = content
            # The search text follows the compacted content in the same transaction.
            await search.index(session, doc.id, doc.workspace_id, doc.title, content)
        last = rows[-1].id
        await session.execute(
            delete(DocumentUpdate).where(
                DocumentUpdate.document_id == document_id, DocumentUpdate.id <= last
            )
        )
    if changed and services.versioner is not None:
        services.versioner.schedule(document_id)
    return len(rows)


class Compactor:
    """Debounced compaction: a document is compacted once edits pause (or at the latest
    ``max_delay`` after its first pending edit). Everything pending is compacted at exit."""

    def __init__(self, services: Services, delay: float = 2.0, max_delay: float = 10.0) -> None:
        self.services = services
        self.delay = delay
        self.max_delay = max_delay
        self._due: dict[uuid.UUID, tuple[float, float]] = {}  # id -> (due, deadline)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    def schedule(self, document_id: uuid.UUID) -> None:
        now = time.monotonic()
        _, deadline = self._due.get(document_id, (0.0, now + self.max_delay))
        self._due[document_id] = (min(now + self.delay, deadline), deadline)
        self._wake.set()

    async def flush(self) -> None:
        pending, self._due = list(self._due), {}
        for document_id in pending:
            await self._compact(document_id)

    async def _compact(self, document_id: uuid.UUID) -> None:
        try:
            await compact(self.services, document_id)
        except Exception:
            log.exception("compaction of %s failed; it will be retried", document_id)
            self.schedule(document_id)

    async def _run(self) -> None:
        while True:
            if not self._due:
                self._wake.clear()
                await self._wake.wait()
            now = time.monotonic()
            ready = [d for d, (due, _) in self._due.items() if due <= now]
            for document_id in ready:
                self._due.pop(document_id, None)
                await self._compact(document_id)
            if self._due:
                next_due = min(due for due, _ in self._due.values())
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), max(0.05, next_due - now))
                except TimeoutError:
                    pass

    async def __aenter__(self) -> Compactor:
        self._task = asyncio.create_task(self._run(), name="mdreader-compactor")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
