"""The audit log over HTTP: a workspace's (admins) and one's own, plus ``origin`` — who is
acting and from where — for the routes that write entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request

from mdreader.access.address import client_ip
from mdreader.access.identity import Caller, Principal
from mdreader.access.roles import WorkspaceAccess
from mdreader.api.deps import CurrentCaller, ReadSessionDep, workspace_guard
from mdreader.api.presenters import event_public
from mdreader.context import Services
from mdreader.policy import Action, Subject
from mdreader.schemas import AuditEventPublic
from mdreader.services import audit as svc
from mdreader.services.audit import Origin

router = APIRouter(prefix="/api", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=500)]


class Someone(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...


def origin(
    request: Request,
    services: Services,
    who: Caller | Principal | Someone | None = None,
    email: str | None = None,
) -> Origin:
    """The actor (a caller, a user, or nobody yet: a failed sign-in) and where they are."""
    principal: Principal | Someone | None = who.user if isinstance(who, Caller) else who
    settings = services.settings
    return Origin(
        actor_id=principal.id if principal else None,
        actor_email=principal.email if principal else email,
        ip=client_ip(request, settings.trusted_proxies, settings.client_ip_header),
        user_agent=request.headers.get("user-agent", ""),
    )


@router.get("/workspaces/{workspace_id}/audit")
async def workspace_audit(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.AUDIT, Action.READ))],
    session: ReadSessionDep,
    limit: Limit = 100,
    before: datetime | None = None,
) -> list[AuditEventPublic]:
    """What happened in the workspace, newest first (``before``: page back by time)."""
    rows = await svc.for_workspace(session, access.workspace.id, before=before, limit=limit)
    return [event_public(e) for e in rows]


@router.get("/auth/audit")
async def own_audit(
    caller: CurrentCaller,
    session: ReadSessionDep,
    limit: Limit = 100,
    before: datetime | None = None,
) -> list[AuditEventPublic]:
    """What you did, and what happened to your account (sign-ins, failed ones too)."""
    rows = await svc.for_user(session, caller.user.id, before=before, limit=limit)
    return [event_public(e) for e in rows]
