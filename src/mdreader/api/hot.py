"""The busiest read, ``GET /api/documents/{id}``, answered from a validated response cache.

The route itself (api/documents.py, behind its policy guard) stays the only place that decides
what a caller may read and what the answer is. This layer remembers the exact answer it gave
to a caller for a document, together with the database's change stamp at the time of the
read, and gives the same bytes again only while the stamp is unchanged: any commit by anyone
(this process, another worker, the CLI) changes the stamp and empties the cache. So a cached
answer is never older than the database, and authorization is re-derived after every change.

Each request still authenticates (``resolve_token``, the same as every route: an expired or
revoked token is refused as usual). Without a change stamp (PostgreSQL) nothing is cached.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mdreader.api.deps import PRIMARY_READS, parse_bearer, resolve_token
from mdreader.context import Services

log = logging.getLogger("mdreader.hot")

DOCUMENT_PATH = re.compile(
    r"/api/documents/([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})"
)
MAX_ENTRY_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024


class ResponseCache:
    """Response bodies by (document, user), valid for one change stamp of one database."""

    def __init__(self, max_entry: int = MAX_ENTRY_BYTES, max_total: int = MAX_TOTAL_BYTES) -> None:
        self.max_entry = max_entry
        self.max_total = max_total
        self._owner: object = None
        self._stamp: int | None = None
        self._entries: dict[tuple[str, uuid.UUID], tuple[list[Any], bytes]] = {}
        self._bytes = 0

    def _current(self, owner: object, stamp: int) -> None:
        if owner is not self._owner or stamp != self._stamp:
            self._owner, self._stamp = owner, stamp
            self._entries.clear()
            self._bytes = 0

    def get(
        self, owner: object, stamp: int, key: tuple[str, uuid.UUID]
    ) -> tuple[list[Any], bytes] | None:
        self._current(owner, stamp)
        return self._entries.get(key)

    def put(
        self,
        owner: object,
        stamp: int,
        key: tuple[str, uuid.UUID],
        headers: list[Any],
        body: bytes,
    ) -> None:
        """Keep an answer read entirely under ``stamp``; the caller checked that the stamp
        did not move between before the read and now."""
        if len(body) > self.max_entry:
            return
        self._current(owner, stamp)
        if self._bytes + len(body) > self.max_total:
            self._entries.clear()
            self._bytes = 0
        self._entries[key] = (headers, body)
        self._bytes += len(body)

    def __len__(self) -> int:
        return len(self._entries)


class HotReads:
    """ASGI layer in front of the router for ``GET /api/documents/{id}`` (see module doc)."""

    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route  # the APIRoute, so that metrics label the hit with its template
        self.cache = ResponseCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        match = DOCUMENT_PATH.fullmatch(scope["path"])
        services: Services | None = getattr(scope["app"].state, "services", None)
        if match is None or services is None or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        db = services.db
        stamp = await db.change_stamp()
        token = _bearer(scope) if stamp is not None else None
        caller = None
        if token is not None:
            try:
                caller = await resolve_token(services, token)
            except Exception:  # the route answers this one, with the usual error handling
                log.debug("hot read: token not resolved here", exc_info=True)
        if caller is None or stamp is None:
            await self.app(scope, receive, send)
            return
        key = (match.group(1), caller.user.id)  # the id as spelled in the path
        hit = self.cache.get(db, stamp, key)
        if hit is not None:
            headers, body = hit
            scope["route"] = self.route
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        scope[PRIMARY_READS] = True  # the stamp is the primary's; so must the answer be
        await self.app(scope, receive, capture)
        if start is not None and start["status"] == 200 and await db.change_stamp() == stamp:
            self.cache.put(db, stamp, key, list(start.get("headers", [])), b"".join(parts))


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return parse_bearer(value.decode("latin-1"))
    return None
