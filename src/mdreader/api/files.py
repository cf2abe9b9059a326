"""/api/workspaces/{id}/files and /api/files/{id}: uploads, served so they cannot run script."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from mdreader.access.roles import FileAccess, WorkspaceAccess
from mdreader.api.deps import ReadSessionDep, ServicesDep, SessionDep, file_guard, workspace_guard
from mdreader.api.openapi import errors
from mdreader.api.presenters import file_public
from mdreader.backends.storage import content_disposition
from mdreader.context import Services
from mdreader.db.models import File
from mdreader.errors import AppError
from mdreader.policy import Action, Subject
from mdreader.schemas import FilePublic
from mdreader.services import files as svc

router = APIRouter(prefix="/api", tags=["files"])

# Whatever a file holds, a browser opening it must not run it in our origin.
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
CHUNK = 1024 * 1024


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise AppError(413, f"The file is larger than {limit} bytes.", "too_large")
        parts.append(chunk)
    return b"".join(parts)


@router.post("/workspaces/{workspace_id}/files", status_code=201, responses=errors(415))
async def upload_file(
    file: UploadFile,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.FILE, Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
) -> FilePublic:
    data = await read_limited(file, services.settings.max_upload_bytes)
    row = await svc.store_file(
        services,
        session,
        workspace_id=access.workspace.id,
        uploader_id=access.caller.user.id,
        filename=file.filename,
        declared_type=file.content_type,
        data=data,
    )
    return file_public(row)


@router.get("/workspaces/{workspace_id}/files")
async def list_files(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.FILE, Action.READ))],
    session: ReadSessionDep,
) -> list[FilePublic]:
    rows = await session.scalars(
        select(File).where(File.workspace_id == access.workspace.id).order_by(File.created_at)
    )
    return [file_public(row) for row in rows]


@router.get(
    "/files/{file_id}",
    response_model=None,
    responses={
        200: {"description": "The file's bytes.", "content": {"*/*": {}}},
        304: {"description": "Not modified since the copy the browser has."},
        307: {"description": "Redirect to a short-lived signed URL of the storage."},
    },
)
async def download_file(
    access: Annotated[FileAccess, Depends(file_guard(Subject.FILE, Action.READ))],
    services: ServicesDep,
    request: Request,
) -> Response:
    return await file_response(services, access.file, request)


async def file_response(
    services: Services, row: File, request: Request, cache: str = "private, max-age=300"
) -> Response:
    """The bytes of a file (or a redirect to a short-lived signed link), served so that they
    cannot run script in our origin; also for the files of a share link (api/shares.py)."""
    inline = row.content_type in svc.SAFE_INLINE_TYPES
    content_type = row.content_type
    if content_type in svc.TEXT_TYPES:
        content_type += "; charset=utf-8"
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Content-Disposition": content_disposition(row.name, inline),
        "Cache-Control": cache,
        "Cross-Origin-Resource-Policy": "same-origin",
        "ETag": f'"{row.sha256}"',
    }
    link = await services.storage.url(
        row.storage_key, filename=row.name, content_type=content_type, inline=inline
    )
    if link is not None:
        return RedirectResponse(
            link,
            status_code=307,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    data = await services.storage.get(row.storage_key)
    if data is None:
        raise AppError(404, "File not found.", "not_found")
    return Response(data, media_type=content_type, headers=headers)


@router.delete("/files/{file_id}", status_code=204)
async def delete_file(
    access: Annotated[FileAccess, Depends(file_guard(Subject.FILE, Action.DELETE))],
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    row = await session.get(File, access.file.id)
    if row is not None:
        await svc.delete_file(services, session, row)
    return Response(status_code=204)
