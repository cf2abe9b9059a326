"""/api/notifications: the caller's inbox (mentions, replies, comments on followed
documents), its unread count (long-polled for live updates), reading, e-mail preferences and
the one-click unsubscribe link; /api/documents/{id}/follow.

The inbox is the caller's own (``authenticated``): it shows only what the caller may still
see, so a removed member's notifications of that workspace are gone with the membership.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from markupsafe import escape

from mdreader.access.roles import DocumentAccess
from mdreader.api.deps import (
    CurrentCaller,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    document_guard,
    public,
)
from mdreader.api.openapi import errors
from mdreader.api.presenters import notification_public, settings_public
from mdreader.db.models import Notification, User
from mdreader.errors import AppError
from mdreader.policy import Action, Subject
from mdreader.schemas import (
    FollowPublic,
    NotificationPublic,
    NotificationSettingsIn,
    NotificationSettingsPublic,
    UnreadPublic,
)
from mdreader.services import notifications as svc

router = APIRouter(prefix="/api", tags=["notifications"])

POLL_INTERVAL = 1.0  # seconds between looks at the count while a request waits
WAIT_MAX = 25


@router.get("/notifications")
async def list_notifications(
    caller: CurrentCaller,
    session: ReadSessionDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[NotificationPublic]:
    """Newest first."""
    rows = await svc.inbox(session, caller.user.id, unread_only=unread, limit=limit, offset=offset)
    return [notification_public(n, title, actor) for n, title, actor in rows]


@router.get("/notifications/unread")
async def unread_count(
    caller: CurrentCaller,
    services: ServicesDep,
    after: Annotated[int | None, Query(ge=0, le=1_000_000_000)] = None,
    wait: Annotated[int, Query(ge=0, le=WAIT_MAX)] = 0,
) -> UnreadPublic:
    """The unread count. With ``after`` (the count the caller has) and ``wait`` seconds, the
    answer waits until the count differs from it (live updates by long polling)."""
    deadline = time.monotonic() + wait
    while True:
        async with services.db.primary_read_session() as session:
            count = await svc.unread_count(session, caller.user.id)
        if after is None or count != after or time.monotonic() >= deadline:
            return UnreadPublic(unread=count)
        await asyncio.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))


@router.post("/notifications/{notification_id}/read", status_code=204, responses=errors(404))
async def mark_read(
    notification_id: uuid.UUID, caller: CurrentCaller, session: SessionDep
) -> Response:
    if not await svc.mark_read(session, caller.user.id, notification_id):
        note = await session.get(Notification, notification_id)
        if note is None or note.user_id != caller.user.id:
            raise AppError(404, "Notification not found.", "not_found")
    return Response(status_code=204)


@router.post("/notifications/read-all", status_code=204)
async def mark_all_read(caller: CurrentCaller, session: SessionDep) -> Response:
    await svc.mark_read(session, caller.user.id, None)
    return Response(status_code=204)


@router.get("/notifications/settings")
async def get_settings(
    caller: CurrentCaller, session: ReadSessionDep
) -> NotificationSettingsPublic:
    """What the caller gets by e-mail."""
    return settings_public((await svc.preferences_of(session, [caller.user.id]))[caller.user.id])


@router.put("/notifications/settings")
async def put_settings(
    body: NotificationSettingsIn, caller: CurrentCaller, session: SessionDep
) -> NotificationSettingsPublic:
    values = {k: v for k, v in body.model_dump().items() if v is not None}
    return settings_public(await svc.set_preferences(session, caller.user.id, **values))


async def _unsubscribe(services: ServicesDep, session: SessionDep, token: str) -> str:
    found = svc.read_unsubscribe_token(services, token)
    if found is None:
        raise AppError(404, "This unsubscribe link is not valid.", "not_found")
    user_id, what = found
    if await session.get(User, user_id) is None:
        raise AppError(404, "This unsubscribe link is not valid.", "not_found")
    await svc.set_preferences(session, user_id, **dict.fromkeys(svc.UNSUBSCRIBE[what], False))
    return "mentions" if what == "mentions" else "replies and comments"


@router.get(
    "/notifications/unsubscribe",
    dependencies=[Depends(public)],
    response_model=None,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **errors(404)},
)
async def unsubscribe_page(
    services: ServicesDep, session: SessionDep, token: Annotated[str, Query(max_length=1000)]
) -> Response:
    """The link in every notification e-mail: works without signing in, in one click."""
    what = await _unsubscribe(services, session, token)
    body = (
        "<!doctype html><meta charset=utf-8><title>Unsubscribed · MDReader</title>"
        '<body style="font-family:system-ui,sans-serif;max-width:36em;margin:4em auto">'
        f"<h1>Unsubscribed</h1><p>You will no longer get e-mails about {escape(what)}. "
        "You can turn them on again in your account settings.</p></body>"
    )
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


@router.post(
    "/notifications/unsubscribe",
    dependencies=[Depends(public)],
    status_code=204,
    responses=errors(404),
)
async def unsubscribe_one_click(
    services: ServicesDep, session: SessionDep, token: Annotated[str, Query(max_length=1000)]
) -> Response:
    """RFC 8058 one-click unsubscribe (what mail clients send for ``List-Unsubscribe-Post``)."""
    await _unsubscribe(services, session, token)
    return Response(status_code=204)


@router.get("/documents/{document_id}/follow")
async def get_follow(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: ReadSessionDep,
) -> FollowPublic:
    return FollowPublic(
        following=await svc.following(session, access.document.id, access.caller.user.id)
    )


@router.put("/documents/{document_id}/follow")
async def follow(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: SessionDep,
) -> FollowPublic:
    """Follow: comments on the document reach the inbox."""
    await svc.follow(session, access.document.id, [access.caller.user.id])
    return FollowPublic(following=True)


@router.delete("/documents/{document_id}/follow")
async def unfollow(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))],
    session: SessionDep,
) -> FollowPublic:
    await svc.unfollow(session, access.document.id, access.caller.user.id)
    return FollowPublic(following=False)
