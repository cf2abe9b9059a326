"""Presenters: what the API answers, built from stored rows and service results.

One function per public shape (``mdreader.schemas``), all here: routes parse, guard, call a
service command, then hand its result to one of these.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

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
from mdreader.policy import Role, Scope
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
        grantable_roles=[r.label for r in policy.grantable_roles(role)],  # type: ignore[misc]
    )


def member_public(user: User, membership: Membership) -> MemberPublic:
    return MemberPublic(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=membership.role,  # type: ignore[arg-type]
        joined_at=membership.created_at,
    )


def invitation_public(invitation: Invitation) -> InvitationPublic:
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,  # type: ignore[arg-type]
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def token_public(row: PersonalToken) -> PersonalTokenPublic:
    return PersonalTokenPublic(
        id=row.id,
        name=row.name,
        scope=Scope(row.scope).value,
        workspace_id=row.workspace_id,
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


def event_public(e: AuditEvent) -> AuditEventPublic:
    return AuditEventPublic(
        id=e.id,
        at=e.at,
        action=e.action,
        actor_id=e.actor_id,
        actor_email=e.actor_email,
        subject_user_id=e.subject_user_id,
        workspace_id=e.workspace_id,
        target=e.target,
        detail=json.loads(e.detail or "{}"),
        ip=e.ip,
        user_agent=e.user_agent,
    )


# --- documents ------------------------------------------------------------------------------


def document_public(
    document: Document | Row[Any], content: str, role: Role, title: str | None = None
) -> DocumentPublic:
    """The document as answered; ``title`` is the live one when it may differ from the row."""
    return DocumentPublic(
        id=document.id,
        workspace_id=document.workspace_id,
        parent_id=document.parent_id,
        title=document.title if title is None else title,
        content=content,
        position=document.position,
        created_at=document.created_at,
        updated_at=document.updated_at,
        created_by=document.created_by,
        updated_by=document.updated_by,
        deleted_at=document.deleted_at,
        role=role.label,  # type: ignore[arg-type]
    )


def version_public(version: DocumentVersion, author_name: str | None) -> VersionPublic:
    return VersionPublic(
        id=version.id,
        created_at=version.created_at,
        author=author_public(version.author_id, author_name),
        label=version.label,
    )


def share_public(share: Share, public_url: str) -> SharePublic:
    return SharePublic(
        token=share.token,
        url=shares_svc.url_of(public_url, share.token),
        created_at=share.created_at,
        created_by=share.created_by,
        expires_at=share.expires_at,
    )


def file_public(row: File) -> FilePublic:
    return FilePublic(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        url=f"/api/files/{row.id}",
        created_at=row.created_at,
    )


# --- comments and notifications -------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _author(user_id: uuid.UUID | None, names: dict[uuid.UUID, str]) -> AuthorPublic | None:
    return author_public(user_id, names.get(user_id) if user_id is not None else None)


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
    return NotificationPublic(
        id=note.id,
        kind=note.kind,  # type: ignore[arg-type]
        workspace_id=note.workspace_id,
        document_id=note.document_id,
        document_title=title,
        comment_id=note.comment_id,
        actor=author_public(note.actor_id, actor),
        excerpt=note.excerpt,
        created_at=note.created_at,
        read_at=note.read_at,
    )


def settings_public(row: NotificationSettings) -> NotificationSettingsPublic:
    return NotificationSettingsPublic(
        email_mentions=row.email_mentions,
        email_replies=row.email_replies,
        email_comments=row.email_comments,
    )


# --- webhooks -------------------------------------------------------------------------------


def webhook_public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic(
        id=hook.id,
        url=hook.url,
        events=json.loads(hook.events),
        active=hook.active,
        failures=hook.failures,
        disabled_reason=hook.disabled_reason,
        created_at=hook.created_at,
    )


def delivery_public(d: WebhookDelivery) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic(
        id=d.id,
        event=d.event,
        status=d.status,  # type: ignore[arg-type]
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        delivered_at=d.delivered_at,
    )
