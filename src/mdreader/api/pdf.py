"""PDF export: GET /api/documents/{id}/pdf and GET /api/workspaces/{id}/pdf (services/pdf.py)."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from mdreader.access.roles import DocumentAccess, WorkspaceAccess
from mdreader.api.audit import origin
from mdreader.api.deps import ReadSessionDep, ServicesDep, document_guard, workspace_guard
from mdreader.api.openapi import errors
from mdreader.api.shares import share_assets
from mdreader.db.models import Document
from mdreader.policy import Action, Subject
from mdreader.services import audit, pdf
from mdreader.services.documents import live_texts

router = APIRouter(prefix="/api", tags=["export"])
PDF = {"content": {"application/pdf": {}}, "description": "The PDF."}


def _pdf(body: bytes, name: str) -> Response:
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-") or "export"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}.pdf"'},
    )


@router.get("/documents/{document_id}/pdf", responses={200: PDF, **errors(503)})
async def document_pdf(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    request: Request,
    services: ServicesDep,
    session: ReadSessionDep,
) -> Response:
    """The document as a PDF: the reader's sanitized HTML, math and diagrams included."""
    settings = services.settings
    chromium = pdf.chromium(settings.pdf_chromium)
    title, content = await live_texts(session, access.document.id)
    section = pdf.Section(access.document.id, title, content)
    ((_, body),) = await pdf.render_sections([section])
    styles, scripts = share_assets(settings.resolved_web_dist)
    page = pdf.document_html(title, body, pdf.asset_tags(styles, scripts))
    data = await pdf.print_pdf(page, web_dist=settings.resolved_web_dist, chromium_path=chromium)
    await audit.record(
        services,
        origin(request, services, access.caller),
        "document.exported",
        workspace_id=access.document.workspace_id,
        target=f"document:{access.document.id}",
        detail={"format": "pdf", "title": title},
    )
    return _pdf(data, title)


@router.get("/workspaces/{workspace_id}/pdf", responses={200: PDF, **errors(503)})
async def workspace_pdf(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.TRANSFER, Action.READ))],
    request: Request,
    services: ServicesDep,
    session: ReadSessionDep,
) -> Response:
    """Every document of the workspace in one PDF, in the tree's order, after a table of
    contents; each document starts on a new page."""
    settings = services.settings
    chromium = pdf.chromium(settings.pdf_chromium)
    rows = (
        await session.execute(
            select(Document.id, Document.parent_id, Document.position, Document.title).where(
                Document.workspace_id == access.workspace.id, Document.deleted_at.is_(None)
            )
        )
    ).all()
    children: dict[uuid.UUID | None, list[tuple[int, str, uuid.UUID]]] = defaultdict(list)
    ids = {r.id for r in rows}
    for r in rows:
        parent = r.parent_id if r.parent_id in ids else None
        children[parent].append((r.position, r.title, r.id))
    ordered: list[tuple[uuid.UUID, int]] = []

    def walk(parent: uuid.UUID | None, depth: int) -> None:
        for _, _, doc_id in sorted(children.get(parent, [])):
            ordered.append((doc_id, depth))
            walk(doc_id, depth + 1)

    walk(None, 0)
    sections = []
    for doc_id, depth in ordered:
        title, content = await live_texts(session, doc_id)
        sections.append(pdf.Section(doc_id, title, content, depth))
    rendered = await pdf.render_sections(sections)
    styles, scripts = share_assets(settings.resolved_web_dist)
    page = pdf.workspace_html(access.workspace.name, rendered, pdf.asset_tags(styles, scripts))
    data = await pdf.print_pdf(page, web_dist=settings.resolved_web_dist, chromium_path=chromium)
    await audit.record(
        services,
        origin(request, services, access.caller),
        "workspace.exported",
        workspace_id=access.workspace.id,
        target=f"workspace:{access.workspace.id}",
        detail={"format": "pdf", "documents": len(sections)},
    )
    return _pdf(data, access.workspace.name)
