"""/api/workspaces/{id}/export (a zip of Markdown files) and /import (files or a zip)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse

from mdreader.access.roles import WorkspaceAccess
from mdreader.api.audit import origin
from mdreader.api.deps import ReadSessionDep, ServicesDep, SessionDep, workspace_guard
from mdreader.api.openapi import errors
from mdreader.errors import AppError
from mdreader.policy import Action, Subject
from mdreader.schemas import DocumentListItem
from mdreader.services import audit
from mdreader.services import transfer as svc

router = APIRouter(prefix="/api", tags=["import and export"])
CHUNK = 64 * 1024


@router.get(
    "/workspaces/{workspace_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export_workspace(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.TRANSFER, Action.READ))],
    request: Request,
    services: ServicesDep,
    session: ReadSessionDep,
) -> StreamingResponse:
    """The workspace's documents as a zip of folders of ``.md`` files with attachments."""
    await audit.record(
        services,
        origin(request, services, access.caller),
        "workspace.exported",
        workspace_id=access.workspace.id,
        target=f"workspace:{access.workspace.id}",
        detail={"format": "zip"},
    )
    spool = svc.spooled_export()
    try:
        await svc.export_workspace(services, session, access.workspace.id, spool)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    async def body() -> AsyncIterator[bytes]:
        try:
            while chunk := spool.read(CHUNK):
                yield chunk
        finally:
            spool.close()

    name = re.sub(r"[^\w.-]+", "-", access.workspace.name).strip("-") or "workspace"
    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Content-Length": str(size),
        },
    )


@router.post("/workspaces/{workspace_id}/import", status_code=201, responses=errors(400, 415))
async def import_documents(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.TRANSFER, Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
    files: Annotated[list[UploadFile], File(description="Markdown files, or one zip")],
    parent_id: Annotated[
        uuid.UUID | None, Form(description="import under this document (default: top level)")
    ] = None,
) -> list[DocumentListItem]:
    """Create documents from ``.md`` files or a zip of them (the export's layout), all or
    nothing: a refused archive leaves no trace."""
    settings = services.settings
    if settings.import_max_per_hour > 0:
        verdict = await services.limiter.hit(
            f"import:user:{access.caller.user.id}", settings.import_max_per_hour, 3600
        )
        if not verdict.allowed:
            minutes = (verdict.retry_after + 59) // 60
            raise AppError(
                429,
                f"You have started {settings.import_max_per_hour} imports in the last hour, "
                f"the most one person may. Try again in {minutes} minutes.",
                "rate_limited",
                headers={"Retry-After": str(verdict.retry_after)},
            )
    if len(files) > settings.import_max_files:
        raise AppError(413, "Too many files in one import.", "too_large")
    found: list[svc.ImportFile] = []
    for upload in files:
        # Unpacking is blocking work on a temporary file: off the event loop.
        found.extend(
            await asyncio.to_thread(
                svc.read_upload, upload.filename or "", upload.file, services.settings
            )
        )
    created = await svc.import_files(
        services, session, access.workspace.id, access.caller.user.id, found, parent_id=parent_id
    )
    return [
        DocumentListItem(
            id=d.id,
            parent_id=d.parent_id,
            title=d.title,
            position=d.position,
            updated_at=d.updated_at,
        )
        for d in created
    ]
