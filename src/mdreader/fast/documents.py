"""The busiest routes served before the router: ``GET /api/documents/{id}`` from a validated
response cache, ``PATCH /api/documents/{id}`` through the route's own guard and command.

For GET, the route itself (api/documents.py, behind its policy guard) stays the only place
that decides what a caller may read and what the answer is. This layer remembers the exact
answer the route gave to a caller for a document, together with the database's change stamp
(fast/stamps.py) taken before the read, and gives the same bytes again only while the stamp is
unchanged: any commit by anyone (this process, another worker or instance, the CLI) moves it
and empties the cache. So a cached answer is never older than the database, and
authorization is re-derived after every change. Without a stamp nothing is cached.

Each request still authenticates (``resolve_token``, the same as every route: an expired or
revoked token is refused as usual).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mdreader import storable
from mdreader.access.identity import Caller, parse_bearer, resolve_token
from mdreader.access.roles import document_access
from mdreader.api.deps import PRIMARY_READS
from mdreader.api.presenters import document_public
from mdreader.context import Services
from mdreader.errors import INTERNAL_DETAIL, AppError, send_error, send_json
from mdreader.fast.stamps import Stamp
from mdreader.observability import header
from mdreader.policy import Action, Subject
from mdreader.schemas import DocumentPatchIn
from mdreader.services.documents import apply_patch

log = logging.getLogger("mdreader.hot")

# Candidates only: the id is then read as the route reads it (DOCUMENT_ID), or the route
# itself answers (a GET is only cached after the route answered it).
DOCUMENT_PATH = re.compile(r"/api/documents/([0-9a-fA-F-]{32,36})")
DOCUMENT_ID = TypeAdapter(uuid.UUID)
MAX_ENTRY_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024


class ResponseCache:
    """Response bodies by (document, user), valid for one change stamp of one database."""

    def __init__(self, max_entry: int = MAX_ENTRY_BYTES, max_total: int = MAX_TOTAL_BYTES) -> None:
        self.max_entry = max_entry
        self.max_total = max_total
        self._owner: object = None
        self._stamp: Stamp | None = None
        self._entries: dict[tuple[str, uuid.UUID], tuple[list[Any], bytes]] = {}
        self._bytes = 0

    def _current(self, owner: object, stamp: Stamp) -> None:
        if owner is not self._owner or stamp != self._stamp:
            self._owner, self._stamp = owner, stamp
            self._entries.clear()
            self._bytes = 0

    def get(
        self, owner: object, stamp: Stamp, key: tuple[str, uuid.UUID]
    ) -> tuple[list[Any], bytes] | None:
        self._current(owner, stamp)
        return self._entries.get(key)

    def put(
        self,
        owner: object,
        stamp: Stamp,
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

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class HotDocuments:
    """ASGI layer in front of the router for the two busiest document routes.

    ``GET /api/documents/{id}``: from the response cache (see module doc).
    ``PATCH /api/documents/{id}``: the same guard (``access.roles.document_access``), the same
    service command (``services.documents.apply_patch``, the edit queue) and the same presenter
    as the route, without the framework's per-request work.

    Anything off the beaten path (no or a bad token, an invalid body, a refusal, a query
    string) goes on to the route, which gives the usual answer and error.
    """

    def __init__(self, app: ASGIApp, get: Any, patch: Any) -> None:
        self.app = app
        # The APIRoutes, so that metrics label what is served here with their templates.
        self.get_route, self.patch_route = get, patch
        self.cache = ResponseCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"] if scope["type"] == "http" else None
        if method not in ("GET", "PATCH") or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        match = DOCUMENT_PATH.fullmatch(scope["path"])
        services: Services | None = getattr(scope["app"].state, "services", None)
        if match is None or services is None:
            await self.app(scope, receive, send)
            return
        if method == "GET":
            await self._get(services, match.group(1), scope, receive, send)
        else:
            await self._patch(services, match.group(1), scope, receive, send)

    async def _get(
        self, services: Services, document_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        db = services.db
        stamp = await db.change_stamp()
        caller = await _caller(services, scope) if stamp is not None else None
        if caller is None or stamp is None:
            await self.app(scope, receive, send)
            return
        key = (document_id, caller.user.id)  # the id as spelled in the path
        hit = self.cache.get(db, stamp, key)
        if hit is not None:
            headers, body = hit
            scope["route"] = self.get_route
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

    async def _patch(
        self, services: Services, document_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        limit = services.settings.max_body_bytes
        declared = _content_length(scope)
        caller = (
            await _caller(services, scope)
            if declared is not None and declared <= limit and _is_json(scope)
            else None
        )
        if caller is None:
            await self.app(scope, receive, send)
            return
        body, receive = await _read_body(receive, declared or 0)
        if storable.json_unstorable(body):  # the route refuses it (api/input.py)
            await self.app(scope, receive, send)
            return
        try:
            patch = DocumentPatchIn.model_validate_json(body)
            access = await document_access(
                services.db,
                caller,
                DOCUMENT_ID.validate_python(document_id),  # as the route reads it
                Subject.DOCUMENT,
                Action.UPDATE,
            )
        except Exception as exc:
            # Invalid, refused, or a failure of ours: the route says what is wrong, in its
            # own words and error shape.
            if not isinstance(exc, (ValidationError, AppError)):
                log.warning("hot PATCH: guard failed; the route answers", exc_info=True)
            await self.app(scope, receive, send)
            return
        scope["route"] = self.patch_route
        try:
            document, title, content = await apply_patch(
                services, access.document.id, caller.user, patch
            )
            answer = document_public(document, content, access.role, title)
        except AppError as exc:
            await send_error(send, exc.status, exc.detail, exc.code, exc.headers)
            return
        except Exception:  # as the app's own handler does for the routes
            log.exception("unhandled error on PATCH %s", scope["path"])
            await send_error(send, 500, INTERNAL_DETAIL, "internal_error")
            return
        await send_json(send, 200, answer.model_dump_json().encode())


async def _caller(services: Services, scope: Scope) -> Caller | None:
    token = _bearer(scope)
    if token is None:
        return None
    try:
        return await resolve_token(services, token)
    except Exception:  # the route answers this one, with the usual error handling
        log.debug("hot path: token not resolved here", exc_info=True)
        return None


def _content_length(scope: Scope) -> int | None:
    raw = header(scope, b"content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


def _is_json(scope: Scope) -> bool:
    raw = header(scope, b"content-type") or b""
    return raw.split(b";", 1)[0].strip().lower() == b"application/json"


async def _read_body(receive: Receive, expected: int) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it out again should the route need it."""
    parts: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        more = message.get("more_body", False) and size <= expected
    body = b"".join(parts)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _bearer(scope: Scope) -> str | None:
    raw = header(scope, b"authorization")
    return parse_bearer(raw.decode("latin-1")) if raw is not None else None
