"""/api/workspaces/{id}/search: ranked full-text search with snippets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mdreader.access.roles import WorkspaceAccess
from mdreader.api.deps import ReadSessionDep, workspace_guard
from mdreader.policy import Action, Subject
from mdreader.schemas import SearchHit
from mdreader.services import search as svc

router = APIRouter(prefix="/api", tags=["search"])


@router.get("/workspaces/{workspace_id}/search")
async def search_workspace(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.SEARCH, Action.READ))],
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="words to find")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> list[SearchHit]:
    hits = await svc.search(session, access.workspace.id, q, limit=limit, offset=offset)
    return [SearchHit(document_id=h.document_id, title=h.title, snippet=h.snippet) for h in hits]
