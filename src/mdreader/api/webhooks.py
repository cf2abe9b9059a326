"""/api/workspaces/{id}/webhooks: where a workspace's events are sent (admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from mdreader.access.roles import WorkspaceAccess
from mdreader.api.audit import origin
from mdreader.api.deps import ReadSessionDep, ServicesDep, SessionDep, workspace_guard
from mdreader.api.openapi import errors
from mdreader.api.presenters import delivery_public, webhook_public
from mdreader.db.models import Webhook
from mdreader.policy import Action, Subject
from mdreader.schemas import (
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookIn,
    WebhookPatchIn,
    WebhookPublic,
)
from mdreader.services import audit
from mdreader.services import webhooks as svc

router = APIRouter(prefix="/api/workspaces/{workspace_id}/webhooks", tags=["webhooks"])


@router.get("")
async def list_webhooks(
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WEBHOOK, Action.READ))],
    session: ReadSessionDep,
) -> list[WebhookPublic]:
    from sqlalchemy import select

    rows = await session.scalars(
        select(Webhook)
        .where(Webhook.workspace_id == access.workspace.id)
        .order_by(Webhook.created_at)
    )
    return [webhook_public(h) for h in rows]


@router.post("", status_code=201, responses=errors(422))
async def create_webhook(
    body: WebhookIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WEBHOOK, Action.CREATE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> WebhookCreated:
    """A new webhook; its signing secret is in this answer only."""
    hook = await svc.create(
        services, session, access.workspace.id, access.caller.user.id, body.url, list(body.events)
    )
    audit.add(
        session,
        origin(request, services, access.caller),
        "webhook.created",
        workspace_id=access.workspace.id,
        target=f"webhook:{hook.id}",
        detail={"url": hook.url, "events": list(body.events)},
    )
    return WebhookCreated(**webhook_public(hook).model_dump(), secret=hook.secret)


@router.patch("/{webhook_id}", responses=errors(404, 422))
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookPatchIn,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WEBHOOK, Action.UPDATE))],
    services: ServicesDep,
    session: SessionDep,
) -> WebhookPublic:
    """Change the URL or events, or switch it off or on (on again: the failure count restarts)."""
    hook = await svc.get(session, access.workspace.id, webhook_id)
    await svc.change(
        services,
        session,
        hook,
        url=body.url,
        events=list(body.events) if body.events is not None else None,
        active=body.active,
    )
    await session.flush()
    return webhook_public(hook)


@router.delete("/{webhook_id}", status_code=204, responses=errors(404))
async def delete_webhook(
    webhook_id: uuid.UUID,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WEBHOOK, Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    hook = await svc.get(session, access.workspace.id, webhook_id)
    audit.add(
        session,
        origin(request, services, access.caller),
        "webhook.deleted",
        workspace_id=access.workspace.id,
        target=f"webhook:{hook.id}",
        detail={"url": hook.url},
    )
    await svc.remove(services, session, hook)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses=errors(404))
async def list_deliveries(
    webhook_id: uuid.UUID,
    access: Annotated[WorkspaceAccess, Depends(workspace_guard(Subject.WEBHOOK, Action.READ))],
    session: ReadSessionDep,
) -> list[WebhookDeliveryPublic]:
    """The delivery log: the last 50 events sent (or being sent) to this webhook."""
    hook = await svc.get(session, access.workspace.id, webhook_id)
    return [delivery_public(d) for d in await svc.deliveries(session, hook.id)]
