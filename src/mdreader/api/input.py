"""What every request must satisfy before any route sees it: no text a database cannot
store (422, ``storable.py``) in its path, its query string, or a JSON or URL-encoded body.
Multipart bodies are files: their text is checked where it is decoded (an import), their
names where they are made safe (uploads). The body's size is limited apart
(``api/limits.py``, ``BodyLimitMiddleware``), outside this layer.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mdreader import storable
from mdreader.errors import send_error
from mdreader.observability import header


class CodedHTTPException(HTTPException):
    """An HTTPException (FastAPI's body reader re-raises those unchanged) with the contract's
    machine word."""

    code = "error"


class UnstorableText(CodedHTTPException):
    code = storable.CODE

    def __init__(self) -> None:
        super().__init__(422, storable.DETAIL)


def _media_type(scope: Scope) -> bytes:
    raw = header(scope, b"content-type") or b""
    return raw.split(b";", 1)[0].strip().lower()


def _is_json(media_type: bytes) -> bool:
    return media_type == b"application/json" or media_type.endswith(b"+json")


class InputMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if storable.unstorable(path) or storable.form_unstorable(scope.get("query_string", b"")):
            await send_error(send, 422, storable.DETAIL, storable.CODE)
            return
        media_type = _media_type(scope)
        check = (
            storable.json_unstorable
            if _is_json(media_type)
            else storable.form_unstorable
            if media_type == b"application/x-www-form-urlencoded"
            else None
        )
        if check is None:
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                if not message.get("more_body", False):
                    # The whole body: a check over joined chunks sees escapes they split.
                    whole = b"".join((*parts, chunk)) if parts else chunk
                    parts.clear()
                    if check(whole):
                        raise UnstorableText()
                else:
                    parts.append(chunk)
            return message

        await self.app(scope, checked_receive, send)
