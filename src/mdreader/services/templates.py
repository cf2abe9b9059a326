"""Templates: any document can be made one; "New from template" copies its title and text
into a new document with ``{{date}}`` (today, ISO) and ``{{author}}`` (who makes it) filled
in. A template in the trash is not offered."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Services
from mdreader.db.models import Document, DocumentTemplate
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import documents as docs


def fill(text: str, author: str, today: date) -> str:
    return text.replace("{{date}}", today.isoformat()).replace("{{author}}", author)


async def mark(session: AsyncSession, document: Document, user_id: uuid.UUID, on: bool) -> None:
    row = await session.get(DocumentTemplate, document.id)
    if on and row is None:
        session.add(
            DocumentTemplate(
                document_id=document.id,
                workspace_id=document.workspace_id,
                created_by=user_id,
                created_at=utcnow(),
            )
        )
    elif not on and row is not None:
        await session.delete(row)
    await session.flush()


async def is_template(session: AsyncSession, document_id: uuid.UUID) -> bool:
    return await session.get(DocumentTemplate, document_id) is not None


async def listed(session: AsyncSession, workspace_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    rows = await session.execute(
        select(Document.id, Document.title)
        .join(DocumentTemplate, DocumentTemplate.document_id == Document.id)
        .where(DocumentTemplate.workspace_id == workspace_id, Document.deleted_at.is_(None))
        .order_by(Document.title, Document.id)
    )
    return [(i, t) for i, t in rows]


async def instantiate(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    template_id: uuid.UUID,
    user_id: uuid.UUID,
    author: str,
    parent_id: uuid.UUID | None,
    title: str | None,
) -> Document:
    template = await session.get(Document, template_id)
    if (
        template is None
        or template.workspace_id != workspace_id
        or template.deleted_at is not None
        or not await is_template(session, template_id)
    ):
        raise AppError(404, "Template not found.", "not_found")
    live_title, content = await docs.live_texts(session, template_id)
    today = utcnow().date()
    return await docs.create_document(
        services,
        session,
        workspace_id,
        user_id,
        fill(title if title is not None else live_title, author, today),
        fill(content, author, today),
        parent_id,
    )
