"""Versions of documents: kept after a quiet period, on request, and before a restore.

A version whose ``content`` is NULL refers to its document's content column: the first
version of an imported or created document is the text the document was stored with, kept
once. Before compaction replaces that column, ``keep_referenced`` copies the text it held
into such versions, so a version never changes.
"""

from __future__ import annotations

import difflib
import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.engine import after_commit
from mdreader.db.models import Document, DocumentVersion
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import documents as docs
from mdreader.services import search
from mdreader.services.debounce import Debouncer

if TYPE_CHECKING:
    from mdreader.context import Backends, Services

log = logging.getLogger("mdreader.versions")


async def latest(session: AsyncSession, document_id: uuid.UUID) -> DocumentVersion | None:
    return await session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document_id)
        .order_by(DocumentVersion.created_at.desc(), DocumentVersion.id)
        .limit(1)
    )


async def keep_referenced(session: AsyncSession, document_id: uuid.UUID, content: str) -> None:
    """The content column of the document is about to change from ``content``: the versions
    that refer to it get their own copy."""
    await session.execute(
        update(DocumentVersion)
        .where(DocumentVersion.document_id == document_id, DocumentVersion.content.is_(None))
        .values(content=content)
        .execution_options(synchronize_session=False)
    )


async def content_of(session: AsyncSession, version: DocumentVersion) -> str:
    """The version's text, read from its document when the version refers to it."""
    if version.content is not None:  # a version's own copy never goes back to a reference
        return version.content
    # One statement: compaction may have given the version its copy (and the document a new
    # text) since the version was loaded; read both as they are now, together.
    found = await session.scalar(
        select(func.coalesce(DocumentVersion.content, Document.content))
        .join(Document, Document.id == DocumentVersion.document_id)
        .where(DocumentVersion.id == version.id)
    )
    return found or ""


async def record(
    session: AsyncSession,
    document: Document,
    content: str,
    author_id: uuid.UUID | None,
    label: str | None = None,
    title: str | None = None,
) -> DocumentVersion:
    version = DocumentVersion(
        document_id=document.id,
        title=document.title if title is None else title,
        content=content,
        label=label,
        author_id=author_id,
        created_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    return version


async def snapshot_if_changed(services: Backends, document_id: uuid.UUID) -> bool:
    """Keep a version of the live text unless the newest version already holds it."""
    async with services.db.session() as session:
        document = await session.get(Document, document_id)
        if document is None or document.deleted_at is not None:
            return False
        title, content = await docs.live_texts(session, document_id)
        last = await latest(session, document_id)
        if last is not None and last.title == title and await content_of(session, last) == content:
            return False
        await record(session, document, content, document.updated_by, title=title)
    return True


async def get(
    session: AsyncSession, document_id: uuid.UUID, version_id: uuid.UUID
) -> DocumentVersion:
    version = await session.get(DocumentVersion, version_id)
    if version is None or version.document_id != document_id:
        raise AppError(404, "Version not found.", "not_found")
    return version


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    out = []
    for line in lines:
        # A last line without a newline still ends its diff line, like `diff` says so.
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def safety_label(version: DocumentVersion) -> str:
    """The label of the version kept before a restore: which version replaced it, by its
    label or its moment (never an id)."""
    if version.label:
        return f"Before restoring “{version.label}”"
    return f"Before restoring the version of {version.created_at:%Y-%m-%d %H:%M} UTC"


async def restore(
    services: Services,
    session: AsyncSession,
    document: Document,
    version: DocumentVersion,
    user_id: uuid.UUID,
) -> str:
    """Bring the version back through the live Yjs state; keep the current state first."""
    title, current = await docs.live_texts(session, document.id)
    await record(session, document, current, user_id, safety_label(version), title)
    restored = await content_of(session, version)
    written = await docs.write_texts(
        services,
        services.collab,
        session,
        document,
        user_id,
        content=restored,
        title=version.title,
    )
    logged = written.update if written is not None else None
    document.updated_at = utcnow()
    document.updated_by = user_id
    await search.index(session, document.id, document.workspace_id, document.title, restored)
    if logged is not None:
        document_id = document.id

        async def _compact() -> None:
            services.compactor.schedule(document_id)

        after_commit(session, _compact)
    return restored


class Versioner(Debouncer):
    """Debounced versions: a changed document gets a version once its edits have been quiet
    for ``quiet_period`` seconds. Pending ones are taken at exit."""

    name = "mdreader-versioner"

    def __init__(self, backends: Backends, quiet_period: float) -> None:
        super().__init__()
        self.backends = backends
        self.quiet_period = quiet_period

    def due(self, document_id: uuid.UUID, now: float) -> float:
        return now + self.quiet_period

    async def fire(self, document_id: uuid.UUID) -> None:
        try:
            await snapshot_if_changed(self.backends, document_id)
        except Exception:
            log.exception("keeping a version of %s failed", document_id)
