"""/api/documents/{id}/comments: threads, replies, edits, resolve and reopen; and
/api/workspaces/{id}/commenting: whether the workspace's viewers may comment.

Route (parse) → ``comment_guard`` (policy.py, with the abilities the workspace grants and
whether the caller wrote the comment) → ``services.comments`` → the presenters below.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from mdreader.access.roles import CommentAccess, WorkspaceAccess
from mdreader.api.deps import (
    ServicesDep,
    SessionDep,
    comment_guard,
    comments_guard,
    workspace_guard,
)
from mdreader.api.presenters import comment_public, thread_public
from mdreader.db.models import Workspace
from mdreader.errors import AppError
from mdreader.policy import Action, Subject
from mdreader.schemas import (
    CommentIn,
    CommentingIn,
    CommentingPublic,
    CommentPublic,
    ThreadIn,
    ThreadPublic,
)
from mdreader.services import comments as svc
from mdreader.services import webhooks

router = APIRouter(prefix="/api", tags=["comments"])


# --- presenters -----------------------------------------------------------------------------


async def _present(session: Any, threads: list[svc.Thread]) -> list[ThreadPublic]:
    ids: list[uuid.UUID | None] = []
    for t in threads:
        ids += [t.comment.author_id, t.comment.resolved_by]
        ids += [r.author_id for r in t.replies]
    names = await svc.names(session, ids)
    return [thread_public(t, names) for t in threads]


def _anchor(body: ThreadIn) -> svc.Anchor | None:
    if body.anchor is None:
        return None
    try:
        start = base64.b64decode(body.anchor.start, validate=True)
        end = base64.b64decode(body.anchor.end, validate=True)
    except (binascii.Error, ValueError):
        raise AppError(
            422, "The anchor's positions must be base64 Yjs relative positions.", "bad_anchor"
        ) from None
    return svc.check_anchor(start, end, body.anchor.quote)


# --- routes ---------------------------------------------------------------------------------


@router.get("/documents/{document_id}/comments")
async def list_comments(
    access: Annotated[CommentAccess, Depends(comments_guard(Action.READ))],
    session: SessionDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "all",
) -> list[ThreadPublic]:
    """The document's threads, oldest first, each with its replies; an anchored thread says
    where its range is now, or that its text is gone (``orphaned``)."""
    return await _present(session, await svc.threads(session, access.document_id, status))


@router.post("/documents/{document_id}/comments", status_code=201)
async def create_thread(
    body: ThreadIn,
    access: Annotated[CommentAccess, Depends(comments_guard(Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
) -> ThreadPublic:
    """Open a thread on a range of the text (``anchor``) or on the whole document."""
    comment = await svc.open_thread(
        services,
        session,
        access.workspace_id,
        access.document_id,
        access.caller.user.id,
        body.body,
        _anchor(body),
    )
    await _comment_event(services, session, access, comment)
    thread = await svc.thread(session, access.document_id, comment.id)
    return (await _present(session, [thread]))[0]


@router.get("/documents/{document_id}/comments/{comment_id}")
async def get_thread(
    access: Annotated[CommentAccess, Depends(comment_guard(Action.READ))], session: SessionDep
) -> ThreadPublic:
    """The thread the comment belongs to (itself, when it is a thread)."""
    assert access.comment is not None
    thread = await svc.thread(session, access.document_id, access.comment.id)
    return (await _present(session, [thread]))[0]


@router.post("/documents/{document_id}/comments/{comment_id}/replies", status_code=201)
async def reply(
    body: CommentIn,
    access: Annotated[CommentAccess, Depends(comment_guard(Action.CREATE))],
    services: ServicesDep,
    session: SessionDep,
) -> CommentPublic:
    assert access.comment is not None
    parent = await svc.get(session, access.document_id, access.comment.id)
    comment = await svc.reply(
        services, session, access.workspace_id, parent, access.caller.user.id, body.body
    )
    await _comment_event(services, session, access, comment)
    return comment_public(comment, {access.caller.user.id: access.caller.user.name})


@router.patch("/documents/{document_id}/comments/{comment_id}")
async def edit_comment(
    body: CommentIn,
    access: Annotated[CommentAccess, Depends(comment_guard(Action.UPDATE))],
    services: ServicesDep,
    session: SessionDep,
) -> CommentPublic:
    """Change the text of one's own comment."""
    assert access.comment is not None
    comment = await svc.get(session, access.document_id, access.comment.id)
    await svc.edit(services, session, access.workspace_id, comment, body.body)
    names = await svc.names(session, [comment.author_id])
    return comment_public(comment, names)


@router.delete("/documents/{document_id}/comments/{comment_id}", status_code=204)
async def delete_comment(
    access: Annotated[CommentAccess, Depends(comment_guard(Action.DELETE))],
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """One's own comment, or anyone's for an admin; a thread goes with its replies."""
    assert access.comment is not None
    comment = await svc.get(session, access.document_id, access.comment.id)
    await svc.remove(services, session, comment)
    return Response(status_code=204)


async def _comment_event(services: Any, session: Any, access: CommentAccess, comment: Any) -> None:
    """Tell the workspace's webhooks that want ``comment.created`` (in the same transaction)."""
    await webhooks.emit(
        services,
        session,
        access.workspace_id,
        "comment.created",
        {
            "comment": {
                "id": str(comment.id),
                "thread_id": str(comment.parent_id or comment.id),
                "body": comment.body,
            },
            "document": {"id": str(access.document_id)},
            "actor": {"id": str(access.caller.user.id), "name": access.caller.user.name},
        },
    )


async def _resolve(
    access: CommentAccess, services: Any, session: Any, resolved: bool
) -> ThreadPublic:
    assert access.comment is not None
    comment = await svc.get(session, access.document_id, access.comment.id)
    await svc.set_resolved(services, session, comment, access.caller.user.id, resolved)
    thread = await svc.thread(session, access.document_id, comment.id)
    return (await _present(session, [thread]))[0]


@router.post("/documents/{document_id}/comments/{comment_id}/resolve")
async def resolve_thread(
    access: Annotated[CommentAccess, Depends(comment_guard(Action.RESOLVE))],
    services: ServicesDep,
    session: SessionDep,
) -> ThreadPublic:
    return await _resolve(access, services, session, True)


@router.post("/documents/{document_id}/comments/{comment_id}/reopen")
async def reopen_thread(
    access: Annotated[CommentAccess, Depends(comment_guard(Action.RESOLVE))],
    services: ServicesDep,
    session: SessionDep,
) -> ThreadPublic:
    return await _resolve(access, services, session, False)


@router.get("/workspaces/{workspace_id}/commenting")
async def get_commenting(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WORKSPACE, Action.READ))],
) -> CommentingPublic:
    return CommentingPublic(viewers_comment=bool(access.workspace.viewers_comment))


@router.put("/workspaces/{workspace_id}/commenting")
async def set_commenting(
    body: CommentingIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WORKSPACE, Action.UPDATE))],
    session: SessionDep,
) -> CommentingPublic:
    """Whether the workspace's viewers hold the ``commenter`` ability (admins decide)."""
    workspace = await session.get(Workspace, access.workspace.id)
    assert workspace is not None
    workspace.viewers_comment = body.viewers_comment
    return CommentingPublic(viewers_comment=workspace.viewers_comment)
