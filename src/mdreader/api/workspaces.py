"""/api/workspaces: workspaces, members and invitations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from mdreader.access.roles import WorkspaceAccess
from mdreader.api.audit import origin
from mdreader.api.deps import (
    CurrentCaller,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    workspace_guard,
)
from mdreader.api.openapi import errors
from mdreader.api.presenters import invitation_public, member_public, workspace_public
from mdreader.db.models import Invitation, Membership, User, Workspace
from mdreader.db.types import utcnow
from mdreader.policy import Action, Role, Subject
from mdreader.schemas import (
    InvitationPublic,
    MemberIn,
    MemberInvited,
    MemberPublic,
    RoleIn,
    TokenIn,
    WorkspaceIn,
    WorkspacePublic,
)
from mdreader.services import audit, webhooks
from mdreader.services import workspaces as svc

router = APIRouter(prefix="/api", tags=["workspaces"])


@router.get("/workspaces")
async def list_workspaces(caller: CurrentCaller, session: ReadSessionDep) -> list[WorkspacePublic]:
    rows = await session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == caller.user.id)
        .order_by(Workspace.name, Workspace.id)
    )
    # A workspace-bound personal access token sees its workspace only.
    return [workspace_public(w, Role[r.upper()]) for w, r in rows if not caller.bound_out(w.id)]


@router.post("/workspaces", status_code=201)
async def create_workspace(
    body: WorkspaceIn, caller: CurrentCaller, session: SessionDep
) -> WorkspacePublic:
    workspace = await svc.create_workspace(session, body.name, caller.user.id)
    return workspace_public(workspace, Role.OWNER)


@router.get("/workspaces/{workspace_id}")
async def get_workspace(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WORKSPACE, Action.READ))],
) -> WorkspacePublic:
    return workspace_public(access.workspace, access.role)


@router.patch("/workspaces/{workspace_id}")
async def update_workspace(
    body: WorkspaceIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WORKSPACE, Action.UPDATE))],
    session: SessionDep,
) -> WorkspacePublic:
    workspace = await svc.rename_workspace(session, access.workspace.id, body.name)
    return workspace_public(workspace, access.role)


@router.delete("/workspaces/{workspace_id}", status_code=204)
async def delete_workspace(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WORKSPACE, Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    audit.add(
        session,
        origin(request, services, access.caller),
        "workspace.deleted",
        workspace_id=access.workspace.id,
        target=f"workspace:{access.workspace.id}",
        detail={"name": access.workspace.name},
    )
    await svc.delete_workspace(services, session, access.workspace.id)
    return Response(status_code=204)


@router.get("/workspaces/{workspace_id}/members")
async def list_members(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.MEMBER, Action.READ))],
    session: ReadSessionDep,
) -> list[MemberPublic]:
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == access.workspace.id)
        .order_by(User.name, User.email)
    )
    return [member_public(u, m) for u, m in rows]


@router.post(
    "/workspaces/{workspace_id}/members",
    status_code=201,
    response_model=MemberPublic,
    responses={
        202: {
            "model": MemberInvited,
            "description": "No such user yet: an invitation was e-mailed.",
        },
        **errors(409),
    },
)
async def add_member(
    body: MemberIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.MEMBER, Action.CREATE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> MemberPublic | JSONResponse:
    result = await svc.add_member(
        services,
        session,
        access.workspace,
        access.caller.user,
        access.role,
        str(body.email),
        Role.parse(body.role),
    )
    if isinstance(result, Invitation):
        audit.add(
            session,
            origin(request, services, access.caller),
            "invitation.created",
            workspace_id=access.workspace.id,
            target=f"invitation:{result.id}",
            detail={"email": result.email, "role": result.role},
        )
        invited = MemberInvited(
            invitation=invitation_public(result),
            detail=f"No account uses {result.email} yet; an invitation was e-mailed.",
        )
        return JSONResponse(invited.model_dump(mode="json"), status_code=202)
    user = await session.get(User, result.user_id)
    assert user is not None
    audit.add(
        session,
        origin(request, services, access.caller),
        "member.added",
        workspace_id=access.workspace.id,
        subject_user_id=user.id,
        target=f"user:{user.id}",
        detail={"email": user.email, "role": result.role},
    )
    await webhooks.emit(
        services,
        session,
        access.workspace.id,
        "member.added",
        {
            "member": {"id": str(user.id), "name": user.name, "role": result.role},
            "actor": {"id": str(access.caller.user.id), "name": access.caller.user.name},
        },
    )
    return member_public(user, result)


@router.patch("/workspaces/{workspace_id}/members/{user_id}", responses=errors(409))
async def update_member(
    user_id: uuid.UUID,
    body: RoleIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.MEMBER, Action.UPDATE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> MemberPublic:
    membership = await svc.change_role(
        session, access.workspace.id, access.role, user_id, Role.parse(body.role)
    )
    audit.add(
        session,
        origin(request, services, access.caller),
        "member.role_changed",
        workspace_id=access.workspace.id,
        subject_user_id=user_id,
        target=f"user:{user_id}",
        detail={"role": membership.role},
    )
    user = await session.get(User, user_id)
    assert user is not None
    return member_public(user, membership)


@router.delete(
    "/workspaces/{workspace_id}/members/{user_id}", status_code=204, responses=errors(409)
)
async def remove_member(
    user_id: uuid.UUID,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.MEMBER, Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    audit.add(
        session,
        origin(request, services, access.caller),
        "member.removed",
        workspace_id=access.workspace.id,
        subject_user_id=user_id,
        target=f"user:{user_id}",
    )
    await svc.remove_member(
        session, access.workspace.id, access.caller.user.id, access.role, user_id
    )
    await webhooks.emit(
        services,
        session,
        access.workspace.id,
        "member.removed",
        {
            "member": {"id": str(user_id)},
            "actor": {"id": str(access.caller.user.id), "name": access.caller.user.name},
        },
    )
    return Response(status_code=204)


@router.get("/workspaces/{workspace_id}/invitations")
async def list_invitations(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.INVITATION, Action.READ))],
    session: ReadSessionDep,
) -> list[InvitationPublic]:
    rows = await session.scalars(
        select(Invitation)
        .where(
            Invitation.workspace_id == access.workspace.id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at)
    )
    return [invitation_public(i) for i in rows]


@router.delete("/workspaces/{workspace_id}/invitations/{invitation_id}", status_code=204)
async def revoke_invitation(
    invitation_id: uuid.UUID,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.INVITATION, Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    invitation = await svc.revoke_invitation(session, access.workspace.id, invitation_id)
    audit.add(
        session,
        origin(request, services, access.caller),
        "invitation.revoked",
        workspace_id=access.workspace.id,
        target=f"invitation:{invitation.id}",
        detail={"email": invitation.email},
    )
    return Response(status_code=204)


@router.post("/invitations/accept", responses=errors(400))
async def accept_invitation(
    body: TokenIn, caller: CurrentCaller, session: SessionDep
) -> WorkspacePublic:
    workspace, role = await svc.accept_invitation(session, body.token, caller.user.id)
    return workspace_public(workspace, role)
