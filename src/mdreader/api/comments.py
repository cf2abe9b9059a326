"""/api/documents/{id}/comments: threads, replies, edits, resolve and reopen; and
/api/workspaces/{id}/commenting: whether the workspace's viewers may comment.

Route (parse) → ``comment_guard`` (policy.py, with the abilities the workspace grants and
whether the caller wrote the comment) → ``services.comments`` → the presenters below.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import bindparam, select

from mdreader import policy
from mdreader.api.deps import (
    Caller,
    ServicesDep,
    SessionDep,
    WorkspaceGuard,
    _role,
    get_caller,
)
from mdreader.db.models import Comment, Document, Membership, Workspace
from mdreader.errors import AppError
from mdreader.policy import Action, Role, Subject
from mdreader.schemas import (
    AnchorPublic,
    AuthorPublic,
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


# --- guard ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommentAccess:
    caller: Caller
    document_id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    granted: frozenset[policy.Ability]
    comment: Comment | None  # the one the path names, if it names one


# The caller, signed in or with a personal access token (whose scope and workspace the guard
# applies); the account-only restriction of ``authenticated`` does not apply to comments.
TokenCaller = Annotated[Caller, Depends(get_caller)]

SCOPE = (
    select(Document.workspace_id, Document.deleted_at, Membership.role, Workspace.viewers_comment)
    .join(Workspace, Workspace.id == Document.workspace_id)
    .outerjoin(
        Membership,
        (Membership.workspace_id == Document.workspace_id)
        & (Membership.user_id == bindparam("user_id")),
    )
    .where(Document.id == bindparam("document_id"))
)


def comment_guard(action: Action, *, names_comment: bool) -> Callable[..., Any]:
    """Guard for /documents/{document_id}/comments[/{comment_id}]: the caller's role in the
    document's workspace, the abilities the workspace grants it, and (for a named comment)
    whether the caller wrote it, checked against ``policy``."""
    policy.rule(Subject.COMMENT, action)

    async def scope(
        document_id: uuid.UUID, caller: TokenCaller, services: ServicesDep
    ) -> tuple[Any, Role | None]:
        async with services.db.primary_read_session() as session:
            row = (
                await session.execute(
                    SCOPE, {"document_id": document_id, "user_id": caller.user.id}
                )
            ).first()
        # A token bound to another workspace sees no document here (404, as elsewhere).
        if row is None or row.deleted_at is not None or caller.bound_out(row.workspace_id):
            return row, None
        return row, _role(row.role)

    async def finish(
        services: Any,
        caller: Caller,
        document_id: uuid.UUID,
        row: Any,
        role: Role | None,
        comment_id: uuid.UUID | None,
    ) -> CommentAccess:
        if role is None:
            policy.authorize(None, action, Subject.COMMENT, what="Document")
        assert row is not None and role is not None
        granted = policy.granted_abilities(role, viewers_comment=bool(row.viewers_comment))
        comment = None
        if comment_id is not None:
            async with services.db.primary_read_session() as session:
                comment = await session.get(Comment, comment_id)
            if comment is None or comment.document_id != document_id:
                raise AppError(404, "Comment not found.", "not_found")
        is_self = comment is not None and comment.author_id == caller.user.id
        policy.authorize(
            role, action, Subject.COMMENT, is_self=is_self, granted=granted, scope=caller.scope
        )
        return CommentAccess(caller, document_id, row.workspace_id, role, granted, comment)

    if names_comment:

        async def guard_named(
            document_id: uuid.UUID,
            comment_id: uuid.UUID,
            caller: TokenCaller,
            services: ServicesDep,
        ) -> CommentAccess:
            row, role = await scope(document_id, caller, services)
            return await finish(services, caller, document_id, row, role, comment_id)

        guard_named.__policy__ = (Subject.COMMENT, action)  # type: ignore[attr-defined]
        return guard_named

    async def guard(
        document_id: uuid.UUID, caller: TokenCaller, services: ServicesDep
    ) -> CommentAccess:
        row, role = await scope(document_id, caller, services)
        return await finish(services, caller, document_id, row, role, None)

    guard.__policy__ = (Subject.COMMENT, action)  # type: ignore[attr-defined]
    return guard


def CommentsGuard(action: Action) -> type[CommentAccess]:
    return Annotated[CommentAccess, Depends(comment_guard(action, names_comment=False))]  # type: ignore[return-value]


def CommentGuard(action: Action) -> type[CommentAccess]:
    return Annotated[CommentAccess, Depends(comment_guard(action, names_comment=True))]  # type: ignore[return-value]


# --- presenters -----------------------------------------------------------------------------


def _author(user_id: uuid.UUID | None, names: dict[uuid.UUID, str]) -> AuthorPublic | None:
    return AuthorPublic(id=user_id, name=names.get(user_id, "")) if user_id is not None else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def comment_public(comment: Comment, names: dict[uuid.UUID, str]) -> CommentPublic:
    return CommentPublic(
        id=comment.id,
        thread_id=comment.parent_id or comment.id,
        author=_author(comment.author_id, names),
        body=comment.body,
        body_html=comment.body_html,
        created_at=comment.created_at,
        edited_at=comment.edited_at,
    )


def thread_public(thread: svc.Thread, names: dict[uuid.UUID, str]) -> ThreadPublic:
    c = thread.comment
    anchor = None
    if c.anchor_start is not None and c.anchor_end is not None:
        where = thread.where
        anchor = AnchorPublic(
            start=_b64(c.anchor_start),
            end=_b64(c.anchor_end),
            quote=c.quote or "",
            offset=where.start if where and not where.orphaned else None,
            length=(where.end - where.start)
            if where and not where.orphaned and where.start is not None and where.end is not None
            else None,
        )
    return ThreadPublic(
        **comment_public(c, names).model_dump(),
        document_id=c.document_id,
        anchor=anchor,
        orphaned=bool(thread.where and thread.where.orphaned),
        resolved_at=c.resolved_at,
        resolved_by=_author(c.resolved_by, names),
        replies=[comment_public(r, names) for r in thread.replies],
    )


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
    access: CommentsGuard(Action.READ),
    session: SessionDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "all",
) -> list[ThreadPublic]:
    """The document's threads, oldest first, each with its replies; an anchored thread says
    where its range is now, or that its text is gone (``orphaned``)."""
    return await _present(session, await svc.threads(session, access.document_id, status))


@router.post("/documents/{document_id}/comments", status_code=201)
async def create_thread(
    body: ThreadIn,
    access: CommentsGuard(Action.CREATE),
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
async def get_thread(access: CommentGuard(Action.READ), session: SessionDep) -> ThreadPublic:
    """The thread the comment belongs to (itself, when it is a thread)."""
    assert access.comment is not None
    thread = await svc.thread(session, access.document_id, access.comment.id)
    return (await _present(session, [thread]))[0]


@router.post("/documents/{document_id}/comments/{comment_id}/replies", status_code=201)
async def reply(
    body: CommentIn,
    access: CommentGuard(Action.CREATE),
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
    access: CommentGuard(Action.UPDATE),
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
    access: CommentGuard(Action.DELETE), services: ServicesDep, session: SessionDep
) -> Response:
    """One's own comment, or anyone's for an admin; a thread goes with its replies."""
    assert access.comment is not None
    comment = await svc.get(session, access.document_id, access.comment.id)
    await svc.remove(services, session, comment)
    return Response(status_code=204)


async def _comment_event(
    services: Any, session: Any, access: CommentAccess, comment: Any
) -> None:
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
    access: CommentGuard(Action.RESOLVE), services: ServicesDep, session: SessionDep
) -> ThreadPublic:
    return await _resolve(access, services, session, True)


@router.post("/documents/{document_id}/comments/{comment_id}/reopen")
async def reopen_thread(
    access: CommentGuard(Action.RESOLVE), services: ServicesDep, session: SessionDep
) -> ThreadPublic:
    return await _resolve(access, services, session, False)


@router.get("/workspaces/{workspace_id}/commenting")
async def get_commenting(
    access: WorkspaceGuard(Subject.WORKSPACE, Action.READ),
) -> CommentingPublic:
    return CommentingPublic(viewers_comment=bool(access.workspace.viewers_comment))


@router.put("/workspaces/{workspace_id}/commenting")
async def set_commenting(
    body: CommentingIn,
    access: WorkspaceGuard(Subject.WORKSPACE, Action.UPDATE),
    session: SessionDep,
) -> CommentingPublic:
    """Whether the workspace's viewers hold the ``commenter`` ability (admins decide)."""
    workspace = await session.get(Workspace, access.workspace.id)
    assert workspace is not None
    workspace.viewers_comment = body.viewers_comment
    return CommentingPublic(viewers_comment=workspace.viewers_comment)
