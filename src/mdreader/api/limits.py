"""Request limits per client address and window: on /api (like the deployment's WAF
rule) and, apart, on the public share pages /s/ (anyone may ask for them, and each one is a
rendered document); answered with 429, ``Retry-After`` and the contract's error shape.

Sign-in keeps its own, stricter throttle (``services.auth.reserve_attempt``).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from mdreader.api.deps import scope_client_ip
from mdreader.errors import send_error

log = logging.getLogger("mdreader.ratelimit")


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith("/api/"):
            kind = "api"
        elif path.startswith("/s/"):
            kind = "share"
        else:
            await self.app(scope, receive, send)
            return
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            await self.app(scope, receive, send)
            return
        settings = services.settings
        limit = (
            settings.rate_limit_requests if kind == "api" else settings.share_rate_limit_requests
        )
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        ip = scope_client_ip(scope, settings)
        try:
            verdict = await services.limiter.hit(
                f"{kind}:ip:{ip}", limit, settings.rate_limit_window
            )
        except Exception:  # the limiter's store is down: serve rather than refuse everyone
            log.warning("rate limiter unavailable; request let through", exc_info=True)
            await self.app(scope, receive, send)
            return
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        await send_error(
            send,
            429,
            f"Too many requests from your address. Try again in {verdict.retry_after} seconds.",
            "rate_limited",
            {"Retry-After": str(verdict.retry_after)},
        )
