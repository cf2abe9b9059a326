"""/api/documents/{id}/versions: list, read, take, diff and restore versions."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from mdreader.api.deps import DocumentGuard, ReadSessionDep, ServicesDep, SessionDep
from mdreader.api.documents import document_public
from mdreader.db.models import Document, DocumentVersion, User
from mdreader.policy import Action, Subject
from mdreader.schemas import AuthorPublic, DocumentPublic, VersionDetail, VersionIn, VersionPublic
from mdreader.services import documents as docs
from mdreader.services import versions as svc

router = APIRouter(prefix="/api", tags=["versions"])


def _author(user_id: uuid.UUID | None, name: str | None) -> AuthorPublic | None:
    return AuthorPublic(id=user_id, name=name or "") if user_id is not None else None


def version_public(version: DocumentVersion, author_name: str | None) -> VersionPublic:
    return VersionPublic(
        id=version.id,
        created_at=version.created_at,
        author=_author(version.author_id, author_name),
        label=version.label,
    )


@router.get("/documents/{document_id}/versions")
async def list_versions(
    access: DocumentGuard(Subject.VERSION, Action.READ),
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[VersionPublic]:
    """Newest first."""
    rows = await session.execute(
        select(DocumentVersion, User.name)
        .outerjoin(User, User.id == DocumentVersion.author_id)
        .where(DocumentVersion.document_id == access.document.id)
        .order_by(DocumentVersion.created_at.desc(), DocumentVersion.id)
        .limit(limit)
        .offset(offset)
    )
    return [version_public(version, name) for version, name in rows]


@router.post("/documents/{document_id}/versions", status_code=201)
async def create_version(
    body: VersionIn,
    access: DocumentGuard(Subject.VERSION, Action.CREATE),
    session: SessionDep,
) -> VersionPublic:
    """Keep the current state now, optionally with a label."""
    document = await session.get(Document, access.document.id)
    assert document is not None
    title, content = await docs.live_texts(session, document.id)
    label = body.label.strip() if body.label and body.label.strip() else None
    version = await svc.record(session, document, content, access.caller.user.id, label, title)
    return version_public(version, access.caller.user.name)


@router.get("/documents/{document_id}/versions/{version_id}")
async def get_version(
    version_id: uuid.UUID,
    access: DocumentGuard(Subject.VERSION, Action.READ),
    session: ReadSessionDep,
) -> VersionDetail:
    version = await svc.get(session, access.document.id, version_id)
    name = await session.scalar(select(User.name).where(User.id == version.author_id))
    return VersionDetail(
        **version_public(version, name).model_dump(),
        document_id=version.document_id,
        title=version.title,
        content=await svc.content_of(session, version),
    )


@router.get(
    "/documents/{document_id}/versions/{version_id}/diff",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/x-diff": {}}}},
)
async def diff_version(
    version_id: uuid.UUID,
    access: DocumentGuard(Subject.VERSION, Action.READ),
    session: ReadSessionDep,
    against: Annotated[
        uuid.UUID | None, Query(description="another version; the current text when absent")
    ] = None,
) -> PlainTextResponse:
    """A unified diff from ``against`` (default: the current text) to this version: what
    restoring this version would change."""
    version = await svc.get(session, access.document.id, version_id)
    if against is None:
        base, base_name = await docs.live_content(session, access.document.id), "current"
    else:
        other = await svc.get(session, access.document.id, against)
        base, base_name = await svc.content_of(session, other), f"version/{other.id}"
    content = await svc.content_of(session, version)
    # difflib is pure Python: a long document must not stall the event loop.
    diff = await asyncio.to_thread(
        svc.unified_diff, base, content, base_name, f"version/{version.id}"
    )
    return PlainTextResponse(diff, media_type="text/x-diff; charset=utf-8")


@router.post("/documents/{document_id}/versions/{version_id}/restore")
async def restore_version(
    version_id: uuid.UUID,
    access: DocumentGuard(Subject.VERSION, Action.RESTORE),
    services: ServicesDep,
    session: SessionDep,
) -> DocumentPublic:
    """The document's text (and title) become the version's again, live for open editors;
    the state it replaces is kept as a version first."""
    version = await svc.get(session, access.document.id, version_id)
    document = await session.get(
        Document, access.document.id, with_for_update=services.db.dialect == "postgresql"
    )
    assert document is not None
    content = await svc.restore(services, session, document, version, access.caller.user.id)
    return document_public(document, content, access.role)
