"""What every request must satisfy before any route sees it: a body within the size limit
(413), and no text a database cannot store (422, ``storable.py``) in its path, its query
string, or a JSON or URL-encoded body. Multipart bodies are files: their text is checked
where it is decoded (an import), their names where they are made safe (uploads).
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


class BodyTooLarge(CodedHTTPException):
    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


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
    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if storable.unstorable(path) or storable.form_unstorable(scope.get("query_string", b"")):
            await send_error(send, 422, storable.DETAIL, storable.CODE)
            return
        limit = self.max_body
        if path.endswith(("/files", "/import")):
            limit = self.max_upload + 64 * 1024  # multipart framing
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
        media_type = _media_type(scope)
        check = (
            storable.json_unstorable
            if _is_json(media_type)
            else storable.form_unstorable
            if media_type == b"application/x-www-form-urlencoded"
            else None
        )
        received = 0
        parts: list[bytes] = []

        async def checked_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge(limit)
                if check is not None:
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
