"""Request limits. Per client address and window: on /api (like the deployment's WAF
rule) and, apart, on the public share pages /s/ (anyone may ask for them, and each one is a
rendered document); answered with 429, ``Retry-After`` and the contract's error shape
(``RateLimitMiddleware``). Per request: a body within ``MDREADER_MAX_BODY_BYTES`` (uploads
and imports: ``MDREADER_MAX_UPLOAD_BYTES``), 413 beyond (``BodyLimitMiddleware``).

Sign-in keeps its own, stricter throttle (``services.auth.reserve_attempt``).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mdreader.access.address import scope_client_ip
from mdreader.api.input import CodedHTTPException
from mdreader.errors import send_error
from mdreader.observability import header

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


MULTIPART_FRAMING = 64 * 1024  # bytes an upload's multipart body may carry beyond the file


class BodyTooLarge(CodedHTTPException):
    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """413 for a body beyond the limit: at once when its Content-Length says so, else as
    soon as the bytes received pass it."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body
        if scope["path"].endswith(("/files", "/import")):
            limit = self.max_upload + MULTIPART_FRAMING
        raw = header(scope, b"content-length")
        declared = int(raw) if raw is not None and raw.isdigit() else None
        if raw is not None and declared is None:
            await send_error(send, 400, "The Content-Length header is not a number.", "bad_request")
            return
        if declared is not None and declared > limit:
            await send_error(
                send, 413, f"The request body is larger than {limit} bytes.", "too_large"
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)
