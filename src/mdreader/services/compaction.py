"""Background compaction: fold a document's update log into its stored state and text."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from mdreader.db.models import Document, DocumentUpdate
from mdreader.services import search
from mdreader.services.debounce import Debouncer
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


class Compactor(Debouncer):
    """Debounced compaction: a document is compacted once edits pause (or at the latest
    ``max_delay`` after its first pending edit). Everything pending is compacted at exit."""

    name = "mdreader-compactor"

    def __init__(self, services: Services, delay: float = 2.0, max_delay: float = 10.0) -> None:
        super().__init__()
        self.services = services
        self.delay = delay
        self.max_delay = max_delay
        self._deadlines: dict[uuid.UUID, float] = {}

    def due(self, document_id: uuid.UUID, now: float) -> float:
        deadline = self._deadlines.setdefault(document_id, now + self.max_delay)
        return min(now + self.delay, deadline)

    async def fire(self, document_id: uuid.UUID) -> None:
        self._deadlines.pop(document_id, None)
        try:
            await compact(self.services, document_id)
        except Exception:
            log.exception("compaction of %s failed; it will be retried", document_id)
            if not self._closing:
                self.schedule(document_id)
