"""The FastAPI application of ``mdreader.app``, with layers in front of the framework's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send


class Application(FastAPI):
    """FastAPI with a few layers in front of the framework's own (error pages, exception
    handlers): the request log and metrics (which so also see the framework's 500s), the
    per-address request limit, and the busiest document routes, which are answered there without
    the framework's per-request cost (fast/documents.py). With ``shortcut``, HTTP requests go
    straight to that stack."""

    outer_middleware: Sequence[Middleware] = ()

    def __init__(self, *, shortcut: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shortcut = shortcut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # HTTP goes straight to the stack built below. FastAPI's own __call__ adds only its
        # optional OpenTelemetry hook (not used here; it reads the environment per request)
        # and root_path (never set here).
        if self.shortcut and scope["type"] == "http" and self.middleware_stack is not None:
            scope["app"] = self
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.outer_middleware):
            app = cls(app, *args, **kwargs)
        return app
