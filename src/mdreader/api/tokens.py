"""/api/auth/tokens: the caller's personal access tokens (account settings)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from mdreader.api.audit import origin
from mdreader.api.deps import CurrentCaller, ReadSessionDep, ServicesDep, SessionDep
from mdreader.api.openapi import errors
from mdreader.api.presenters import token_public
from mdreader.policy import Scope
from mdreader.schemas import PersonalTokenCreated, PersonalTokenIn, PersonalTokenPublic
from mdreader.services import audit
from mdreader.services import tokens as svc

router = APIRouter(prefix="/api/auth/tokens", tags=["auth"])


@router.get("")
async def list_tokens(caller: CurrentCaller, session: ReadSessionDep) -> list[PersonalTokenPublic]:
    return [token_public(r) for r in await svc.listed(session, caller.user.id)]


@router.post("", status_code=201, responses=errors(404, 409))
async def create_token(
    body: PersonalTokenIn,
    caller: CurrentCaller,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> PersonalTokenCreated:
    """Make a token; its secret is in this answer only."""
    row, secret = await svc.create(
        services,
        session,
        caller.user.id,
        name=body.name,
        scope=Scope(body.scope),
        workspace_id=body.workspace_id,
        expires_at=body.expires_at,
    )
    audit.add(
        session,
        origin(request, services, caller),
        "token.created",
        workspace_id=row.workspace_id,
        subject_user_id=caller.user.id,
        target=f"token:{row.id}",
        detail={"name": row.name, "scope": row.scope, "expires_at": row.expires_at},
    )
    return PersonalTokenCreated(**token_public(row).model_dump(), token=secret)


@router.delete("/{token_id}", status_code=204, responses=errors(404))
async def revoke_token(
    token_id: uuid.UUID,
    caller: CurrentCaller,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    row = await svc.revoke(services, session, caller.user.id, token_id)
    audit.add(
        session,
        origin(request, services, caller),
        "token.revoked",
        subject_user_id=caller.user.id,
        target=f"token:{row.id}",
        detail={"name": row.name},
    )
    return Response(status_code=204)
