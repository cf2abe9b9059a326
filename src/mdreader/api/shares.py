"""/api/documents/{id}/shares (make, list, revoke links) and the public page /s/{token}."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from mdreader.access.roles import DocumentAccess, ShareAccess
from mdreader.api.audit import origin
from mdreader.api.deps import (
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    SharedFileGuard,
    document_guard,
    public,
    share_guard,
)
from mdreader.api.files import file_response
from mdreader.api.presenters import share_public
from mdreader.csp import content_security_policy
from mdreader.policy import Action, Subject
from mdreader.render import page
from mdreader.schemas import ShareIn, SharePublic
from mdreader.services import audit, webhooks
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


@router.post("/api/documents/{document_id}/shares", status_code=201)
async def create_share(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.SHARE, Action.CREATE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    body: ShareIn | None = None,
) -> SharePublic:
    """A public read-only link to the document, optionally expiring at ``expires_at``."""
    expires_at = body.expires_at if body else None
    share = await svc.create(session, access.document.id, access.caller.user.id, expires_at)
    document = access.document
    audit.add(
        session,
        origin(request, services, access.caller),
        "share.created",
        workspace_id=document.workspace_id,
        target=f"document:{document.id}",
        detail={"title": document.title, "expires_at": expires_at},
    )
    await webhooks.emit(
        services,
        session,
        document.workspace_id,
        "share.created",
        {
            "document": {"id": str(document.id), "title": document.title},
            "share": {"expires_at": expires_at.isoformat() if expires_at else None},
            "actor": {"id": str(access.caller.user.id), "name": access.caller.user.name},
        },
    )
    return share_public(share, services.settings.public_url)


@router.get("/api/documents/{document_id}/shares")
async def list_shares(
    access: Annotated[DocumentAccess, Depends(document_guard(Subject.SHARE, Action.READ))],
    services: ServicesDep,
    session: ReadSessionDep,
) -> list[SharePublic]:
    """The links that work now (not revoked, not expired), newest first."""
    shares = await svc.active(session, access.document.id)
    return [share_public(s, services.settings.public_url) for s in shares]


@router.delete("/api/documents/{document_id}/shares/{token}", status_code=204)
async def revoke_share(
    access: Annotated[ShareAccess, Depends(share_guard(Action.DELETE))],
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    await svc.revoke(session, access.share.id)
    audit.add(
        session,
        origin(request, services, access.caller),
        "share.revoked",
        workspace_id=access.document.workspace_id,
        target=f"document:{access.document.id}",
    )
    return Response(status_code=204)


@lru_cache(maxsize=4)
def _assets(manifest: Path, _mtime: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    chunks = json.loads(manifest.read_text())
    styles: list[str] = []
    seen: set[str] = set()

    def collect(key: str) -> None:  # the entry's CSS and that of the chunks it imports
        if key in seen or key not in chunks:
            return
        seen.add(key)
        styles.extend(f"/{css}" for css in chunks[key].get("css", ()) if f"/{css}" not in styles)
        for imported in chunks[key].get("imports", ()):
            collect(imported)

    entry = chunks.get("src/share.ts")
    if entry is None:
        return (), ()
    collect("src/share.ts")
    return tuple(styles), (f"/{entry['file']}",)


def share_assets(web_dist: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The stylesheets and script of the share page in the web build (none without one)."""
    manifest = web_dist / ".vite" / "manifest.json"
    try:
        return _assets(manifest, manifest.stat().st_mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return (), ()


def _without_title_heading(content: str, title: str) -> str:
    """The text without a first `# heading` that repeats the title (the page shows it)."""
    match = re.match(r"\s*#[ \t]+(.+?)[ \t#]*(?:\n|$)", content)
    if match and match.group(1).strip().casefold() == title.strip().casefold():
        return content[match.end() :]
    return content


@router.api_route(
    "/s/{token}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    dependencies=[Depends(public)],
    include_in_schema=False,
)
async def shared_page(token: str, services: ServicesDep) -> Response:
    """The public page: the document's live text, sanitized, with the reader's look; its
    images and attachments load through /s/{token}/files/{id}; HEAD answers as GET.

    Rendered off the event loop and kept while the database does not change
    (render.Renderer): a burst of visitors costs one render and a small query each. The link
    itself is checked on every request, so a revoked link is dead at once."""
    db, renderer, settings = services.db, services.renderer, services.settings
    headers = {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(settings)}
    stamp = await db.change_stamp()
    # The primary: a page kept against the primary's stamp must be read from it.
    async with db.primary_read_session() as session:
        document = await svc.resolve(session, token)
    if document is None:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=headers)
    key = (document.id, token)  # the page carries the token in its file links

    async def build() -> bytes:
        async with db.primary_read_session() as session:
            title, content = await docs.live_texts(session, document.id)
        content, _ = svc.shared_files(content, settings.public_url, token)
        styles, scripts = share_assets(settings.resolved_web_dist)
        body_html = await renderer.html(_without_title_heading(content, title))
        url = svc.url_of(settings.public_url, token)
        body = page(title, body_html, url=url, styles=styles, scripts=scripts).encode()
        if stamp is not None and await db.change_stamp() == stamp:
            renderer.keep_page(key, stamp, body)
        return body

    body = await renderer.page(key, stamp, build)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


@router.api_route(
    "/s/{token}/files/{file_id}",
    methods=["GET", "HEAD"],
    response_model=None,
    include_in_schema=False,
)
async def shared_file(access: SharedFileGuard, services: ServicesDep, request: Request) -> Response:
    """An image or attachment of the shared document, for anyone holding the link, while it
    works (the policy's share grant)."""
    return await file_response(services, access.file, request, cache="private, no-cache")
