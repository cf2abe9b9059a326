"""AWS Lambda entry point: ``mdreader.lambda_handler.handler`` behind API Gateway (REST API
events, v1) or an HTTP API (v2), through Mangum.

Mangum would run the app's lifespan on every invocation; instead the lifespan is entered
once, on the first invocation (or during the init phase on Lambda), and kept for the life of
the execution environment, so the database pool, cache and mailer are reused while warm.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from typing import Any

from mangum import Mangum

from mdreader.app import create_app
from mdreader.settings import Settings


class LambdaApp:
    """One app, its event loop and its lifespan, serving Lambda events."""

    def __init__(self, settings: Settings | None = None, **app_options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # Mangum runs each event on the current loop
        self.app = create_app(settings, **app_options)
        self.adapter = Mangum(self.app, lifespan="off")
        self._stack = AsyncExitStack()
        self._started = False

    def start(self) -> None:
        if not self._started:
            lifespan = self.app.router.lifespan_context(self.app)
            self.loop.run_until_complete(self._stack.enter_async_context(lifespan))
            self._started = True

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _app
    if _app is None:
        _app = LambdaApp()
    return _app(event, context)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # On Lambda the init phase runs at full CPU before the first event: start there.
    _app = LambdaApp()
    _app.start()
