"""Workspaces, members and invitations."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.auth.tokens import hash_token, new_opaque_token
from mdreader.context import Services
from mdreader.db.models import Invitation, Membership, User, Workspace
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.policy import Role, can_grant
from mdreader.services.files import delete_workspace_files
from mdreader.services.mail import send_after_commit
from mdreader.services.people import Person


async def create_workspace(session: AsyncSession, name: str, owner: uuid.UUID) -> Workspace:
    workspace = Workspace(name=workspace_name(name), created_by=owner)
    session.add(workspace)
    await session.flush()
    session.add(Membership(workspace_id=workspace.id, user_id=owner, role=Role.OWNER.label))
    await session.flush()
    return workspace


def workspace_name(name: str) -> str:
    """A workspace's name as stored (422 when blank)."""
    if not name.strip():
        raise AppError(422, "The workspace name cannot be blank.", "invalid_name")
    return name.strip()


async def rename_workspace(session: AsyncSession, workspace_id: uuid.UUID, name: str) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise AppError(404, "Workspace not found.", "not_found")
    workspace.name = workspace_name(name)
    await session.flush()
    return workspace


async def delete_workspace(
    services: Services, session: AsyncSession, workspace_id: uuid.UUID
) -> None:
    """The workspace and everything in it; its files' bytes go once that commits."""
    await delete_workspace_files(services, session, workspace_id)
    await session.execute(delete(Workspace).where(Workspace.id == workspace_id))


async def revoke_invitation(
    session: AsyncSession, workspace_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation:
    """Withdraw an invitation of the workspace (404 for another's); returns what it was."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.workspace_id != workspace_id:
        raise AppError(404, "Invitation not found.", "not_found")
    await session.delete(invitation)
    return invitation


async def owner_count(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Membership.workspace_id == workspace_id, Membership.role == Role.OWNER.label
            )
        )
        or 0
    )


async def get_membership(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    membership = await session.get(Membership, (workspace_id, user_id))
    if membership is None:
        raise AppError(404, "Member not found.", "not_found")
    return membership


async def add_member(
    services: Services,
    session: AsyncSession,
    workspace: Workspace,
    inviter: Person,
    inviter_role: Role,
    email: str,
    role: Role,
) -> Membership | Invitation:
    """Add an existing user at once; e-mail an invitation to an address with no account."""
    if not can_grant(inviter_role, role):
        raise AppError(403, "Only an owner can make someone an owner.", "forbidden")
    email = email.strip().lower()
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None:
        if await session.get(Membership, (workspace.id, user.id)):
            raise AppError(409, "This person is already a member.", "already_member")
        membership = Membership(workspace_id=workspace.id, user_id=user.id, role=role.label)
        session.add(membership)
        await session.flush()
        return membership
    existing = await session.scalar(
        select(Invitation).where(
            Invitation.workspace_id == workspace.id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
        )
    )
    if existing is not None:
        await session.delete(existing)
    token = new_opaque_token()
    ttl = services.settings.invitation_ttl
    invitation = Invitation(
        workspace_id=workspace.id,
        email=email,
        role=role.label,
        token_hash=hash_token(token),
        invited_by=inviter.id,
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    session.add(invitation)
    await session.flush()
    # The address rides along so the sign-up form can be filled in with it.
    query = urlencode({"token": token, "email": email})
    link = f"{services.settings.public_url.rstrip('/')}/invite?{query}"
    send_after_commit(
        services,
        session,
        services.templates.render(
            "invite",
            email,
            inviter=inviter.name,
            workspace=workspace.name,
            role=role.label,
            link=link,
            days=ttl // 86400,
        ),
    )
    return invitation


async def change_role(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    actor_role: Role,
    user_id: uuid.UUID,
    role: Role,
) -> Membership:
    membership = await get_membership(session, workspace_id, user_id)
    current = Role[membership.role.upper()]
    if not can_grant(actor_role, role, current):
        raise AppError(
            403, "Only an owner can change an owner's role or make an owner.", "forbidden"
        )
    if (
        current == Role.OWNER
        and role != Role.OWNER
        and await owner_count(session, workspace_id) <= 1
    ):
        raise AppError(
            409, "The last owner cannot be demoted; make someone else owner first.", "last_owner"
        )
    membership.role = role.label
    await session.flush()
    return membership


async def remove_member(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    actor_id: uuid.UUID,
    actor_role: Role,
    user_id: uuid.UUID,
) -> None:
    membership = await get_membership(session, workspace_id, user_id)
    current = Role[membership.role.upper()]
    if actor_id != user_id and not can_grant(actor_role, current, current):
        raise AppError(403, "Only an owner can remove an owner.", "forbidden")
    if current == Role.OWNER and await owner_count(session, workspace_id) <= 1:
        raise AppError(
            409, "The last owner cannot leave; make someone else owner first.", "last_owner"
        )
    await session.delete(membership)


async def accept_invitation(
    session: AsyncSession, token: str, user_id: uuid.UUID
) -> tuple[Workspace, Role]:
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise AppError(400, "This invitation is invalid, already used or expired.", "invalid_token")
    workspace = await session.get(Workspace, invitation.workspace_id)
    assert workspace is not None
    invitation.accepted_at = utcnow()
    membership = await session.get(Membership, (workspace.id, user_id))
    if membership is None:
        membership = Membership(workspace_id=workspace.id, user_id=user_id, role=invitation.role)
        session.add(membership)
    elif Role[invitation.role.upper()] > Role[membership.role.upper()]:
        membership.role = invitation.role
    await session.flush()
    return workspace, Role[membership.role.upper()]


async def accept_pending_invitations(session: AsyncSession, user: User) -> None:
    """A verified address joins the workspaces it was invited to."""
    rows = await session.scalars(
        select(Invitation).where(
            Invitation.email == user.email,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    )
    for invitation in rows:
        invitation.accepted_at = utcnow()
        if await session.get(Membership, (invitation.workspace_id, user.id)) is None:
            session.add(
                Membership(
                    workspace_id=invitation.workspace_id, user_id=user.id, role=invitation.role
                )
            )


async def import_author(
    session: AsyncSession, workspace_id: uuid.UUID, email: str | None
) -> uuid.UUID | None:
    """Whom the command line's import writes as (the user ``email``, else the workspace's
    first owner); 404 when the workspace or the user does not exist."""
    if await session.get(Workspace, workspace_id) is None:
        raise AppError(404, f"There is no workspace {workspace_id}.", "not_found")
    if email:
        user = await session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise AppError(404, f"There is no user {email}.", "not_found")
        return user.id
    return await session.scalar(
        select(Membership.user_id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER.label)
        .order_by(Membership.created_at)
        .limit(1)
    )
