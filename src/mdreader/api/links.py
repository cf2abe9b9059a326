"""/api/documents/{id}/backlinks: the documents that link to this one ("Linked from")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mdreader.access.roles import DocumentAccess
from mdreader.api.deps import ReadSessionDep, document_guard
from mdreader.db.models import Document
from mdreader.policy import Action, Subject
from mdreader.schemas import BacklinkPublic
from mdreader.services import links as svc

router = APIRouter(prefix="/api", tags=["links"])


@router.get("/documents/{document_id}/backlinks")
async def list_backlinks(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> list[BacklinkPublic]:
    """Documents of the workspace linking here, by id (``/d/<id>``) or as ``[[Title]]``."""
    document = await session.get(Document, access.document.id)
    assert document is not None
    return [
        BacklinkPublic(id=b.id, title=b.title, snippet=b.snippet)
        for b in await svc.backlinks(session, document)
    ]
