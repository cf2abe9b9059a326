"""/api/documents/{id}/shares (make, list, revoke links) and the public page /s/{token}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse

from mdreader.api.deps import (
    DocumentGuard,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    ShareGuard,
    public,
)
from mdreader.csp import content_security_policy
from mdreader.db.models import Share
from mdreader.policy import Action, Subject
from mdreader.render import page
from mdreader.schemas import ShareIn, SharePublic
from mdreader.services import documents as docs
from mdreader.services import shares as svc

router = APIRouter(tags=["shares"])

# The page is sanitized HTML; its policy (csp.py, the web app's) allows no script but the
# app's own, and no framing, should sanitizing ever fail.
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    # Revoking a link must take effect at once: no shared caches.
    "Cache-Control": "private, no-store",
}
NOT_FOUND_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title>'
    "</head><body><p>This link does not exist, has expired, or was revoked.</p></body></html>"
)


def share_public(share: Share, public_url: str) -> SharePublic:
    return SharePublic(
        token=share.token,
        url=svc.url_of(public_url, share.token),
        created_at=share.created_at,
        created_by=share.created_by,
        expires_at=share.expires_at,
    )


@router.post("/api/documents/{document_id}/shares", status_code=201)
async def create_share(
    access: DocumentGuard(Subject.SHARE, Action.CREATE),
    services: ServicesDep,
    session: SessionDep,
    body: ShareIn | None = None,
) -> SharePublic:
    """A public read-only link to the document, optionally expiring at ``expires_at``."""
    expires_at = body.expires_at if body else None
    share = await svc.create(session, access.document.id, access.caller.user.id, expires_at)
    return share_public(share, services.settings.public_url)


@router.get("/api/documents/{document_id}/shares")
async def list_shares(
    access: DocumentGuard(Subject.SHARE, Action.READ),
    services: ServicesDep,
    session: ReadSessionDep,
) -> list[SharePublic]:
    """The links that work now (not revoked, not expired), newest first."""
    shares = await svc.active(session, access.document.id)
    return [share_public(s, services.settings.public_url) for s in shares]


@router.delete("/api/documents/{document_id}/shares/{token}", status_code=204)
async def revoke_share(access: ShareGuard(Action.DELETE), session: SessionDep) -> Response:
    await svc.revoke(session, access.share.id)
    return Response(status_code=204)


@router.get(
    "/s/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(public)],
    include_in_schema=False,
)
async def shared_page(token: str, services: ServicesDep) -> Response:
    """The page, rendered off the event loop and kept while the database does not change
    (render.Renderer): a burst of visitors costs one render and a small query each. The link
    itself is checked on every request, so a revoked link is dead at once."""
    db, renderer = services.db, services.renderer
    headers = {
        **PAGE_HEADERS,
        "Content-Security-Policy": content_security_policy(services.settings),
    }
    stamp = await db.change_stamp()
    # The primary: a page kept against the primary's stamp must be read from it.
    async with db.primary_read_session() as session:
        document = await svc.resolve(session, token)
    if document is None:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=headers)

    async def build() -> bytes:
        async with db.primary_read_session() as session:
            content = await docs.live_content(session, document.id)
        body = page(document.title, await renderer.html(content)).encode()
        if stamp is not None and await db.change_stamp() == stamp:
            renderer.keep_page(document.id, stamp, body)
        return body

    body = await renderer.page(document.id, stamp, build)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
