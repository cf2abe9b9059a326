"""Presenters: what the API answers, built from stored rows and service results.

One function per public shape (``mdreader.schemas``), all here: routes parse, guard, call a
service command, then hand its result to one of these.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Row

from mdreader import policy
from mdreader.access.identity import Principal
from mdreader.db.models import (
    AuditEvent,
    Comment,
    Document,
    DocumentVersion,
    File,
    Invitation,
    Membership,
    Notification,
    NotificationSettings,
    PersonalToken,
    Share,
    User,
    Webhook,
    WebhookDelivery,
    Workspace,
)
from mdreader.policy import Role
from mdreader.schemas import (
    AnchorPublic,
    AuditEventPublic,
    AuthorPublic,
    CommentPublic,
    DocumentPublic,
    FilePublic,
    InvitationPublic,
    MemberPublic,
    NotificationPublic,
    NotificationSettingsPublic,
    PersonalTokenPublic,
    SharePublic,
    ThreadPublic,
    UserPublic,
    VersionPublic,
    WebhookDeliveryPublic,
    WebhookPublic,
    WorkspacePublic,
)
from mdreader.services import comments as comments_svc
from mdreader.services import shares as shares_svc

M = TypeVar("M", bound=BaseModel)


def present(model: type[M], row: object, **computed: Any) -> M:
    """``model`` filled from ``row``'s attributes of the same names, ``computed`` taking the
    fields the row does not hold as such (validated by pydantic like any answer)."""
    fields = {
        name: computed[name] if name in computed else getattr(row, name)
        for name in model.model_fields
    }
    return model.model_validate(fields)


# --- accounts and workspaces ----------------------------------------------------------------


def user_public(user: User | Principal) -> UserPublic:
    who = user if isinstance(user, Principal) else Principal.of(user)
    return UserPublic(
        id=who.id,
        email=who.email,
        name=who.name,
        email_verified=who.email_verified,
        mfa_enabled=who.mfa_enabled,
        created_at=who.created_at,
    )


def author_public(user_id: uuid.UUID | None, name: str | None) -> AuthorPublic | None:
    return AuthorPublic(id=user_id, name=name or "") if user_id is not None else None


def workspace_public(workspace: Workspace, role: Role) -> WorkspacePublic:
    return WorkspacePublic(
        id=workspace.id,
        name=workspace.name,
        role=role.label,  # type: ignore[arg-type]
        created_at=workspace.created_at,
        abilities=policy.abilities(
            role, policy.granted_abilities(role, viewers_comment=bool(workspace.viewers_comment))
        ),
        viewers_comment=bool(workspace.viewers_comment),
    )


def member_public(user: User, membership: Membership) -> MemberPublic:
    return present(
        MemberPublic, user, user_id=user.id, role=membership.role, joined_at=membership.created_at
    )


def invitation_public(invitation: Invitation) -> InvitationPublic:
    return present(InvitationPublic, invitation)


def token_public(row: PersonalToken) -> PersonalTokenPublic:
    return present(PersonalTokenPublic, row)


def event_public(e: AuditEvent) -> AuditEventPublic:
    return present(AuditEventPublic, e, detail=json.loads(e.detail or "{}"))


# --- documents ------------------------------------------------------------------------------


def document_public(
    document: Document | Row[Any], content: str, role: Role, title: str | None = None
) -> DocumentPublic:
    """The document as answered; ``title`` is the live one when it may differ from the row."""
    return present(
        DocumentPublic,
        document,
        title=document.title if title is None else title,
        content=content,
        role=role.label,
    )


def version_public(version: DocumentVersion, author_name: str | None) -> VersionPublic:
    return present(VersionPublic, version, author=author_public(version.author_id, author_name))


def share_public(share: Share, public_url: str) -> SharePublic:
    return present(SharePublic, share, url=shares_svc.url_of(public_url, share.token))


def file_public(row: File) -> FilePublic:
    return present(FilePublic, row, url=f"/api/files/{row.id}")


# --- comments and notifications -------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _author(user_id: uuid.UUID | None, names: dict[uuid.UUID, str]) -> AuthorPublic | None:
    return author_public(user_id, names.get(user_id) if user_id is not None else None)


def comment_public(comment: Comment, names: dict[uuid.UUID, str]) -> CommentPublic:
    return present(
        CommentPublic,
        comment,
        thread_id=comment.parent_id or comment.id,
        author=_author(comment.author_id, names),
    )


def thread_public(thread: comments_svc.Thread, names: dict[uuid.UUID, str]) -> ThreadPublic:
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


def notification_public(note: Notification, title: str, actor: str | None) -> NotificationPublic:
    return present(
        NotificationPublic, note, document_title=title, actor=author_public(note.actor_id, actor)
    )


def settings_public(row: NotificationSettings) -> NotificationSettingsPublic:
    return present(NotificationSettingsPublic, row)


# --- webhooks -------------------------------------------------------------------------------


def webhook_public(hook: Webhook) -> WebhookPublic:
    return present(WebhookPublic, hook, events=json.loads(hook.events))


def delivery_public(d: WebhookDelivery) -> WebhookDeliveryPublic:
    return present(
        WebhookDeliveryPublic,
        d,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
    )
