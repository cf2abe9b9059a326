"""Templates: /api/workspaces/{id}/templates (the workspace's, in one place), "New from
template" (POST /api/workspaces/{id}/documents/from-template), and marking a document as a
template (PUT / DELETE /api/documents/{id}/template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mdreader.access.roles import DocumentAccess, WorkspaceAccess
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
from mdreader.schemas import DocumentPublic, FromTemplateIn, TemplateFlagPublic, TemplatePublic
from mdreader.services import templates as svc

router = APIRouter(prefix="/api", tags=["templates"])


@router.get("/workspaces/{workspace_id}/templates")
async def list_templates(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> list[TemplatePublic]:
    return [
        TemplatePublic(id=i, title=t) for i, t in await svc.listed(session, access.workspace.id)
    ]


@router.post(
    "/workspaces/{workspace_id}/documents/from-template", status_code=201, responses=errors(413)
)
async def create_from_template(
    body: FromTemplateIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.DOCUMENT, Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
) -> DocumentPublic:
    """A new document copied from the template, ``{{date}}`` and ``{{author}}`` filled in."""
    document = await svc.instantiate(
        services,
        session,
        access.workspace.id,
        body.template_id,
        access.caller.user.id,
        access.caller.user.name,
        body.parent_id,
        body.title,
    )
    return document_public(document, document.content, access.role)


@router.get("/documents/{document_id}/template")
async def get_template_flag(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> TemplateFlagPublic:
    return TemplateFlagPublic(template=await svc.is_template(session, access.document.id))


async def _flag(access, session, on: bool) -> TemplateFlagPublic:  # type: ignore[no-untyped-def]
    document = await session.get(Document, access.document.id)
    assert document is not None
    await svc.mark(session, document, access.caller.user.id, on)
    return TemplateFlagPublic(template=on)


@router.put("/documents/{document_id}/template")
async def make_template(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.UPDATE))],
    session: SessionDep,
) -> TemplateFlagPublic:
    """Offer this document under "New from template"."""
    return await _flag(access, session, True)


@router.delete("/documents/{document_id}/template")
async def unmake_template(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.UPDATE))],
    session: SessionDep,
) -> TemplateFlagPublic:
    return await _flag(access, session, False)
