"""AWS Lambda entry point: ``mdreader.lambda_handler.handler`` behind API Gateway (REST API
events, v1) or an HTTP API (v2), through Mangum.

Mangum would run the app's lifespan on every invocation; instead the lifespan is entered
once, on the first invocation (or during the init phase on Lambda), and kept for the life of
the execution environment, so the database pool, cache and mailer are reused while warm.

Behind CloudFront (docs/deploy-aws.md) the function answers only requests that carry
CloudFront's secret origin header (``X-Origin-Verify``, the secret named by
``MDREADER_ORIGIN_SECRET_NAME``): the API Gateway address itself leads nowhere, so the WAF
cannot be bypassed. Such a request's client address is the viewer's, the hop CloudFront
appended to ``X-Forwarded-For``; the app then sees it as the peer.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import os
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

# Loading and building the app makes a few hundred thousand objects that live as long as the
# execution environment: the cyclic garbage collector, run every 700 allocations, would walk
# them over and over and free none (a tenth of a cold start). It is paused while the app's
# modules are imported and while the app is built and started; the lifespan then freezes what
# exists (``gc.freeze``: never scanned again) and it runs as usual for what requests make.
_collecting = gc.isenabled()
gc.disable()
try:
    from mangum import Mangum

    from mdreader.app import create_app
    from mdreader.settings import Settings
finally:
    if _collecting:
        gc.enable()

ORIGIN_HEADER = "x-origin-verify"
FORBIDDEN = {
    "statusCode": 403,
    "headers": {"content-type": "application/json"},
    "body": json.dumps(
        {
            "detail": "Requests reach this API through its CloudFront address only.",
            "code": "forbidden",
        }
    ),
    "isBase64Encoded": False,
}


class OriginSecret:
    """The value CloudFront sends in ``X-Origin-Verify``, read from Secrets Manager and read
    again (at most once a minute) when a request carries another value, so that a rotated
    secret is picked up without a restart."""

    def __init__(self, name: str, read: Callable[[str], str | None] | None = None) -> None:
        self.name = name
        self._read = read or _secret_value
        self._value: str | None = None
        self._read_at = 0.0

    def accepts(self, presented: str | None) -> bool:
        if not presented:
            return False
        if self._value is None or (
            not hmac.compare_digest(presented, self._value)
            and time.monotonic() - self._read_at > 60
        ):
            self._value = self._read(self.name)
            self._read_at = time.monotonic()
        return self._value is not None and hmac.compare_digest(presented, self._value)


def _secret_value(name: str) -> str | None:
    from mdreader.backends.secrets import secrets_source

    return secrets_source().get(name)


def viewer_address(event: dict[str, Any]) -> None:
    """Put the viewer's address where Mangum reads the peer: the right-most
    ``X-Forwarded-For`` hop that is not API Gateway's own peer (the CloudFront edge)."""
    context = event.get("requestContext") or {}
    holder = context.get("http") if "http" in context else context.get("identity")
    if not isinstance(holder, dict):
        return
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    hops = [h.strip() for h in str(headers.get("x-forwarded-for") or "").split(",") if h.strip()]
    edge = holder.get("sourceIp")
    while hops and hops[-1] == edge:
        hops.pop()
    if hops:
        holder["sourceIp"] = hops[-1]


class LambdaApp:
    """One app, its event loop and its lifespan, serving Lambda events."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        origin_secret: OriginSecret | None = None,
        **app_options: Any,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # Mangum runs each event on the current loop
        self.app = create_app(settings, **app_options)
        name = self.app.state.settings.origin_secret_name
        self.origin_secret = origin_secret or (OriginSecret(name) if name else None)
        self.adapter = Mangum(self.app, lifespan="off")
        self._stack = AsyncExitStack()
        self._started = False

    def start(self) -> None:
        if not self._started:
            lifespan = self.app.router.lifespan_context(self.app)
            self.loop.run_until_complete(self._stack.enter_async_context(lifespan))
            self._started = True

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self.origin_secret is not None:
            headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
            if not self.origin_secret.accepts(headers.get(ORIGIN_HEADER)):
                return dict(FORBIDDEN)
            viewer_address(event)
        self.start()
        return self.adapter(event, context)

    def close(self) -> None:
        if self._started:
            self.loop.run_until_complete(self._stack.aclose())
            self._started = False
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()
        asyncio.set_event_loop(None)


_app: LambdaApp | None = None


def _started() -> LambdaApp:
    """The app, built and its lifespan entered, with the collector paused (see above)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        app = LambdaApp()
        app.start()
    finally:
        if collecting:
            gc.enable()
    return app


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _app
    if _app is None:
        _app = _started()
    return _app(event, context)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # On Lambda the init phase runs at full CPU before the first event: start there.
    _app = _started()
