"""/api/workspaces/{id}/documents and /api/documents/{id}: the document tree and its text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from mdreader.access.roles import DocumentAccess, WorkspaceAccess
from mdreader.api.audit import origin
from mdreader.api.deps import (
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    document_guard,
    workspace_guard,
)
from mdreader.api.openapi import errors
from mdreader.api.presenters import document_public
from mdreader.db.models import Document
from mdreader.policy import Action, Subject
from mdreader.schemas import (
    DocumentCreateIn,
    DocumentListItem,
    DocumentPatchIn,
    DocumentPublic,
    TrashItem,
)
from mdreader.services import audit, webhooks
from mdreader.services import documents as svc

router = APIRouter(prefix="/api", tags=["documents"])
# Rendered Markdown is already sanitized; the policy is a second wall should it ever fail.
HTML_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'"


@router.get("/workspaces/{workspace_id}/documents")
async def list_documents(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> list[DocumentListItem]:
    rows = await session.execute(
        select(
            Document.id, Document.parent_id, Document.title, Document.position, Document.updated_at
        )
        .where(Document.workspace_id == access.workspace.id, Document.deleted_at.is_(None))
        .order_by(Document.parent_id, Document.position, Document.created_at)
    )
    return [DocumentListItem.model_validate(row._asdict()) for row in rows]


@router.post("/workspaces/{workspace_id}/documents", status_code=201, responses=errors(413))
async def create_document(
    body: DocumentCreateIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.DOCUMENT, Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
) -> DocumentPublic:
    document = await svc.create_document(
        services,
        session,
        access.workspace.id,
        access.caller.user.id,
        body.title,
        body.content or "",
        body.parent_id,
    )
    await webhooks.emit(
        services,
        session,
        access.workspace.id,
        "document.created",
        svc.document_event(document, access.caller.user),
    )
    return document_public(document, document.content, access.role)


@router.get("/workspaces/{workspace_id}/trash")
async def list_trash(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.TRASH, Action.READ))],
    session: ReadSessionDep,
) -> list[TrashItem]:
    rows = list(
        await session.scalars(
            select(Document)
            .where(Document.workspace_id == access.workspace.id, Document.deleted_at.is_not(None))
            .order_by(Document.deleted_at.desc())
        )
    )
    by_id = {d.id: d for d in rows}
    # Only the roots of what was trashed together; their descendants come back with them.
    return [
        TrashItem(
            id=d.id,
            parent_id=d.parent_id,
            title=d.title,
            position=d.position,
            updated_at=d.updated_at,
            deleted_at=d.deleted_at,  # type: ignore[arg-type]
        )
        for d in rows
        if not (d.parent_id in by_id and by_id[d.parent_id].deleted_at == d.deleted_at)
    ]


@router.get("/documents/{document_id}")
async def get_document(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> DocumentPublic:
    title, content = await svc.live_texts(session, access.document.id)
    return document_public(access.document, content, access.role, title)


@router.get("/documents/{document_id}/html", response_class=HTMLResponse)
async def get_document_html(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    services: ServicesDep,
    session: ReadSessionDep,
) -> HTMLResponse:
    content = await svc.live_content(session, access.document.id)
    return HTMLResponse(
        await services.renderer.html(content),
        headers={"Content-Security-Policy": HTML_CSP},
    )


@router.patch("/documents/{document_id}", responses=errors(409))
async def update_document(
    body: DocumentPatchIn,
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.UPDATE))],
    services: ServicesDep,
) -> DocumentPublic:
    document, title, content = await svc.apply_patch(
        services, access.document.id, access.caller.user, body
    )
    return document_public(document, content, access.role, title)


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    document = await session.get(Document, access.document.id)
    assert document is not None
    await svc.trash(session, document)
    audit.add(
        session,
        origin(request, services, access.caller),
        "document.trashed",
        workspace_id=document.workspace_id,
        target=f"document:{document.id}",
        detail={"title": document.title},
    )
    await webhooks.emit(
        services,
        session,
        document.workspace_id,
        "document.trashed",
        svc.document_event(document, access.caller.user),
    )
    return Response(status_code=204)


@router.delete("/documents/{document_id}/permanent", status_code=204)
async def delete_document_forever(
    access: Annotated[
        DocumentAccess, Depends(document_guard(Subject.TRASH, Action.DELETE, include_deleted=True))
    ],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """Delete a document in the trash for good (admins), with what was trashed with it."""
    document = await session.get(Document, access.document.id)
    assert document is not None
    audit.add(
        session,
        origin(request, services, access.caller),
        "document.deleted",
        workspace_id=document.workspace_id,
        target=f"document:{document.id}",
        detail={"title": document.title},
    )
    await svc.delete_forever(session, document)
    return Response(status_code=204)


@router.post("/documents/{document_id}/restore", responses=errors(409))
async def restore_document(
    access: Annotated[
        DocumentAccess,
        Depends(document_guard(Subject.DOCUMENT, Action.RESTORE, include_deleted=True)),
    ],
    services: ServicesDep,
    session: SessionDep,
) -> DocumentPublic:
    document = await session.get(Document, access.document.id)
    assert document is not None
    await svc.restore(services, session, document)
    await session.flush()
    await webhooks.emit(
        services,
        session,
        document.workspace_id,
        "document.restored",
        svc.document_event(document, access.caller.user),
    )
    title, content = await svc.live_texts(session, document.id)
    return document_public(document, content, access.role, title)
