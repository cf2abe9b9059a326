"""The global request limit on /api: N requests per client address per window (like the
deployment's WAF rule), answered with 429, ``Retry-After`` and the contract's error shape.

Sign-in keeps its own, stricter throttle (``services.auth.throttle_*``).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from mdreader.api.deps import scope_client_ip
from mdreader.errors import send_error

log = logging.getLogger("mdreader.ratelimit")


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        services = getattr(scope["app"].state, "services", None)
        if services is None or services.settings.rate_limit_requests <= 0:
            await self.app(scope, receive, send)
            return
        settings = services.settings
        ip = scope_client_ip(scope, settings)
        try:
            verdict = await services.limiter.hit(
                f"api:ip:{ip}", settings.rate_limit_requests, settings.rate_limit_window
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
