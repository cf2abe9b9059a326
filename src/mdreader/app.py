"""The ASGI application: API, health, metrics and the built web app, in one process."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.middleware import Middleware

from mdreader import __version__
from mdreader.access.address import scope_client_ip
from mdreader.api import (
    audit,
    auth,
    comments,
    documents,
    files,
    health,
    links,
    notifications,
    openapi,
    pdf,
    search,
    shares,
    sso,
    templates,
    tokens,
    transfer,
    versions,
    webhooks,
    workspaces,
)
from mdreader.api.input import InputMiddleware
from mdreader.api.limits import BodyLimitMiddleware, RateLimitMiddleware
from mdreader.backends.mail import Mailer
from mdreader.backends.secrets import apply_secrets
from mdreader.collab.asgi import hocuspocus_endpoint, ywebsocket_endpoint
from mdreader.csp import content_security_policy
from mdreader.errors import error_body, install_error_handlers
from mdreader.fast.app import Application
from mdreader.fast.documents import HotDocuments
from mdreader.observability import EmfEmitter, Metrics, ObservabilityMiddleware
from mdreader.runtime import build_services
from mdreader.settings import Settings


def create_app(settings: Settings | None = None, *, mailer: Mailer | None = None) -> FastAPI:
    settings = apply_secrets(settings or Settings())
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings, metrics, mailer=mailer) as services:
            app.state.services = services
            # What start-up made (modules, routes, compiled queries) lives as long as the
            # process: keep it out of the collector's full passes, which otherwise walk it all
            # and stall every request for tens of milliseconds under load.
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()  # collectable again (tests make many apps in one process)

    app = Application(
        shortcut=settings.fast_paths,
        title="MDReader",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    modules = (
        auth,
        audit,
        sso,
        tokens,
        workspaces,
        documents,
        versions,
        comments,
        notifications,
        links,
        templates,
        search,
        shares,
        transfer,
        files,
        webhooks,
        pdf,
        health,
    )
    for module in modules:
        app.include_router(module.router)
    # Collaboration: authorization happens per document inside the protocol (policy.py).
    app.add_api_websocket_route("/ws", hocuspocus_endpoint)
    app.add_api_websocket_route("/ws/y/{document_id}", ywebsocket_endpoint)
    openapi.install(app)
    mount_web(app, settings.resolved_web_dist, content_security_policy(settings))
    # Outermost last: unstorable text in the path is refused (422) before the body's size
    # is looked at (413).
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
    )
    app.add_middleware(InputMiddleware)
    emf = (
        EmfEmitter(settings.emf_namespace, endpoint=settings.emf_endpoint)
        if settings.log_emf
        else None
    )
    outer = [
        Middleware(
            ObservabilityMiddleware,
            metrics=metrics,
            emf=emf,
            client_of=lambda scope: scope_client_ip(scope, settings),
        ),
        Middleware(RateLimitMiddleware),
    ]
    if settings.fast_paths:
        outer.append(
            Middleware(
                HotDocuments,
                get=_route(documents.router, "GET", "/api/documents/{document_id}"),
                patch=_route(documents.router, "PATCH", "/api/documents/{document_id}"),
            )
        )
    app.outer_middleware = outer
    return app


def _route(router: APIRouter, method: str, path: str) -> APIRoute:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no route {method} {path}")


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def mount_web(app: FastAPI, dist: Path, csp: str) -> None:
    """Serve the built web app; unknown client-side routes fall back to index.html."""
    root = dist.resolve()
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp}

    @app.get("/{path:path}", include_in_schema=False)
    async def web(path: str, request: Request) -> Response:
        if path.startswith(("api/", "ws", "s/")) or path in ("api", "health", "metrics"):
            return JSONResponse(error_body("Not found.", "not_found"), status_code=404)
        index = root / "index.html"
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                cache = (
                    "public, max-age=31536000, immutable"
                    if path.startswith("assets/")
                    else "public, max-age=300"
                )
                return FileResponse(candidate, headers={**headers, "Cache-Control": cache})
        if index.is_file():
            return FileResponse(index, headers={**headers, "Cache-Control": "no-cache"})
        return Response(
            "<!doctype html><title>MDReader</title><p>The web app is not built yet: "
            "run <code>make run</code> (or <code>npm --prefix web run build</code>).</p>",
            media_type="text/html",
            headers=headers,
        )

    web.__policy__ = "public"  # type: ignore[attr-defined]
