"""What a caller is to a workspace, or to a document's or file's workspace: one query each,
all built on the one membership join (``_member``), with the rules every guard applies.

Every guard asks here: the REST guards (``mdreader.api.deps``, comments and share links
included), the fast paths (``mdreader.fast``) and the collaboration WebSocket
(``mdreader.collab.auth``, whose periodic re-check reads many roles at once through
``document_roles``). A token bound to another workspace, and a trashed document (unless the
route restores or purges it), have no role: the policy then answers 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from mdreader import policy
from mdreader.access.identity import Caller
from mdreader.db import Database
from mdreader.db.models import Comment, Document, File, Membership, Share, Workspace
from mdreader.errors import AppError
from mdreader.policy import Action, Role, Subject

_CHUNK = 500  # ids per IN list of ``document_roles``


def parse_role(name: str | None) -> Role | None:
    """The role stored in a membership row (None: no membership)."""
    return Role[name.upper()] if name else None


def _member(workspace_id: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[bool]:
    """The caller's membership (bound as ``user_id``) of the workspace ``workspace_id`` names."""
    return (Membership.workspace_id == workspace_id) & (Membership.user_id == bindparam("user_id"))


# Built once: every request only binds its ids.
WORKSPACE_AND_ROLE = (
    select(Workspace, Membership.role)
    .outerjoin(Membership, _member(Workspace.id))
    .where(Workspace.id == bindparam("workspace_id"))
)
# The document's columns except its text and Yjs state (which can be large; handlers read
# them when they need them), the caller's role, and whether the workspace lets viewers
# comment: a plain row, no ORM object to build.
DOCUMENT_AND_ROLE = (
    select(
        *(
            column
            for column in Document.__table__.columns
            if column.key not in ("content", "ystate")
        ),
        Membership.role,
        Workspace.viewers_comment,
    )
    .join(Workspace, Workspace.id == Document.workspace_id)
    .outerjoin(Membership, _member(Document.workspace_id))
    .where(Document.id == bindparam("document_id"))
)
FILE_AND_ROLE = (
    select(File, Membership.role)
    .outerjoin(Membership, _member(File.workspace_id))
    .where(File.id == bindparam("file_id"))
)


async def workspace_role(
    db: Database, caller: Caller, workspace_id: uuid.UUID
) -> tuple[Workspace | None, Role | None]:
    async with db.primary_read_session() as session:
        row = (
            await session.execute(
                WORKSPACE_AND_ROLE, {"workspace_id": workspace_id, "user_id": caller.user.id}
            )
        ).first()
    if row is None:
        return None, None
    workspace: Workspace = row[0]
    return workspace, None if caller.bound_out(workspace_id) else parse_role(row[1])


async def document_role(
    db: Database, caller: Caller, document_id: uuid.UUID, *, include_deleted: bool = False
) -> tuple[Row[Any] | None, Role | None]:
    """The document's row (``DOCUMENT_AND_ROLE``) and the caller's role in its workspace."""
    document = await db.read_row(
        DOCUMENT_AND_ROLE, {"document_id": document_id, "user_id": caller.user.id}
    )
    if document is None:
        return None, None
    if (document.deleted_at is not None and not include_deleted) or caller.bound_out(
        document.workspace_id
    ):
        return document, None
    return document, parse_role(document.role)


async def file_role(
    db: Database, caller: Caller, file_id: uuid.UUID
) -> tuple[File | None, Role | None]:
    async with db.primary_read_session() as session:
        row = (
            await session.execute(FILE_AND_ROLE, {"file_id": file_id, "user_id": caller.user.id})
        ).first()
    if row is None:
        return None, None
    file: File = row[0]
    return file, None if caller.bound_out(file.workspace_id) else parse_role(row[1])


async def document_roles(
    session: AsyncSession, document_ids: Sequence[uuid.UUID], user_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], Role]:
    """The roles of many users in the workspaces of many documents not in the trash, by
    (document, user): the collaboration re-check of every open connection at once."""
    roles: dict[tuple[uuid.UUID, uuid.UUID], Role] = {}
    for i in range(0, len(document_ids), _CHUNK):
        rows = await session.execute(
            select(Document.id, Membership.user_id, Membership.role)
            .join(Membership, Membership.workspace_id == Document.workspace_id)
            .where(
                Document.id.in_(document_ids[i : i + _CHUNK]),
                Document.deleted_at.is_(None),
                Membership.user_id.in_(user_ids),
            )
        )
        for doc_id, user_id, role_name in rows:
            roles[(doc_id, user_id)] = Role[role_name.upper()]
    return roles


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    caller: Caller
    workspace: Workspace
    role: Role


@dataclass(frozen=True, slots=True)
class DocumentAccess:
    caller: Caller
    document: Row[Any]  # the columns of DOCUMENT_AND_ROLE: the document's but its text
    role: Role


@dataclass(frozen=True, slots=True)
class FileAccess:
    caller: Caller
    file: File
    role: Role


async def workspace_access(
    db: Database,
    caller: Caller,
    workspace_id: uuid.UUID,
    subject: Subject,
    action: Action,
    *,
    is_self: bool = False,
) -> WorkspaceAccess:
    """The caller's access to the workspace for ``action`` on ``subject``, or AppError
    (404 / 403) by the policy."""
    workspace, role = await workspace_role(db, caller, workspace_id)
    policy.authorize(role, action, subject, is_self=is_self, what="Workspace", scope=caller.scope)
    assert workspace is not None and role is not None
    return WorkspaceAccess(caller, workspace, role)


async def document_access(
    db: Database,
    caller: Caller,
    document_id: uuid.UUID,
    subject: Subject,
    action: Action,
    *,
    include_deleted: bool = False,
) -> DocumentAccess:
    """The caller's access to the document for ``action`` on ``subject``, or AppError
    (404 / 403) by the policy: the REST guard and the fast PATCH path both decide here."""
    document, role = await document_role(db, caller, document_id, include_deleted=include_deleted)
    policy.authorize(role, action, subject, what="Document", scope=caller.scope)
    assert document is not None and role is not None
    return DocumentAccess(caller, document, role)


async def file_access(
    db: Database, caller: Caller, file_id: uuid.UUID, subject: Subject, action: Action
) -> FileAccess:
    file, role = await file_role(db, caller, file_id)
    policy.authorize(role, action, subject, what="File", scope=caller.scope)
    assert file is not None and role is not None
    return FileAccess(caller, file, role)


@dataclass(frozen=True, slots=True)
class CommentAccess:
    caller: Caller
    document_id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    granted: frozenset[policy.Ability]
    comment: Comment | None  # the one the path names, if it names one


async def comment_access(
    db: Database,
    caller: Caller,
    document_id: uuid.UUID,
    action: Action,
    comment_id: uuid.UUID | None = None,
) -> CommentAccess:
    """The caller's role in the document's workspace, the abilities the workspace grants it,
    and (for a named comment) whether the caller wrote it, checked against the policy."""
    document, role = await document_role(db, caller, document_id)
    if document is None or role is None:
        policy.authorize(None, action, Subject.COMMENT, what="Document")
    assert document is not None and role is not None
    granted = policy.granted_abilities(role, viewers_comment=bool(document.viewers_comment))
    comment = None
    if comment_id is not None:
        async with db.primary_read_session() as session:
            comment = await session.get(Comment, comment_id)
        if comment is None or comment.document_id != document_id:
            raise AppError(404, "Comment not found.", "not_found")
    is_self = comment is not None and comment.author_id == caller.user.id
    policy.authorize(
        role, action, Subject.COMMENT, is_self=is_self, granted=granted, scope=caller.scope
    )
    return CommentAccess(caller, document_id, document.workspace_id, role, granted, comment)


@dataclass(frozen=True, slots=True)
class ShareAccess:
    caller: Caller
    document: Row[Any]  # as in DocumentAccess
    share: Share
    role: Role


async def share_access(
    db: Database, caller: Caller, document_id: uuid.UUID, token: str, action: Action
) -> ShareAccess:
    """The caller's access to a share link of a document: the document's workspace role
    decides, and whoever made the link counts as its owner (``self_allowed`` rules)."""
    document, role = await document_role(db, caller, document_id)
    share = None
    if role is not None:
        async with db.primary_read_session() as session:
            share = await session.scalar(
                select(Share).where(
                    Share.token == token,
                    Share.document_id == document_id,
                    Share.revoked_at.is_(None),
                )
            )
    if share is None:
        policy.authorize(role, Action.READ, Subject.SHARE, what="Document")
        raise AppError(404, "Share link not found.", "not_found")
    is_self = share.created_by == caller.user.id
    policy.authorize(
        role, action, Subject.SHARE, is_self=is_self, what="Document", scope=caller.scope
    )
    assert document is not None and role is not None
    return ShareAccess(caller, document, share, role)
