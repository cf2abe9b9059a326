"""Background compaction: fold a document's update log into its stored state and text."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from mdreader.db.models import Document, DocumentUpdate
from mdreader.services import notifications, search, versions
from mdreader.services.debounce import Debouncer
from mdreader.ytext import column_title, full_state, make_doc, text_of, title_of

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
                select(
                    DocumentUpdate.id,
                    DocumentUpdate.data,
                    DocumentUpdate.user_id,
                    DocumentUpdate.created_at,
                )
                .where(DocumentUpdate.document_id == document_id)
                .order_by(DocumentUpdate.id)
            )
        ).all()
        if not rows:
            return 0
        # Seeded from the title column if it has no title yet, and from the content column
        # when no state was stored (see ytext): stored from now on.
        updates = (row.data for row in rows)
        ydoc = make_doc(doc.ystate, updates, title=doc.title, content=doc.content)
        # Updates that arrived before one they depend on are pending in ydoc: kept too.
        doc.ystate = full_state(ydoc, [doc.ystate, *(row.data for row in rows)])
        content, title = text_of(ydoc), column_title(title_of(ydoc))
        changed = content != doc.content or title != doc.title
        if changed:
            # Who edited follows the document; whoever they newly mentioned is told.
            await notifications.on_document_change(
                services, session, doc, doc.content, content, [row.user_id for row in rows]
            )
            # Versions that refer to the content column keep the text it is replacing.
            await versions.keep_referenced(session, doc.id, doc.content)
            doc.content, doc.title = content, title
            # The search text follows the compacted content in the same transaction.
            await search.index(session, doc.id, doc.workspace_id, title, content)
        # Live edits move "updated": the last logged update's moment and author (a REST write
        # already set both when it logged its update).
        newest = rows[-1]
        if newest.created_at is not None and (
            doc.updated_at is None or newest.created_at > doc.updated_at
        ):
            doc.updated_at = newest.created_at
            if newest.user_id is not None:
                doc.updated_by = newest.user_id
        # Only the rows read: on PostgreSQL a row with a smaller id may commit after a larger
        # one was read, so "every id up to the last" could take one this state lacks.
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 1000):
            await session.execute(
                delete(DocumentUpdate).where(DocumentUpdate.id.in_(ids[start : start + 1000]))
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
