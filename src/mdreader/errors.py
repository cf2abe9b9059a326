"""The contract's error shape: ``{"detail": "<sentence>", "code": "<machine_word>"}``."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

log = logging.getLogger("mdreader.errors")

DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class AppError(Exception):
    """An expected failure with a sentence for the caller."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.headers = headers


def not_found(what: str = "Document") -> AppError:
    return AppError(404, f"{what} not found.", "not_found")


def error_body(detail: object, code: str) -> dict[str, object]:
    return {"detail": detail, "code": code}


# What a caller is told of a failure that is ours (the details go to the log).
INTERNAL_DETAIL = "Something went wrong on our side."


async def send_json(
    send: Send, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    """A JSON response from plain ASGI code (the layers before the router)."""
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, status: int, detail: object, code: str, headers: dict[str, str] | None = None
) -> None:
    """The contract's error shape from plain ASGI code, rendered as JSONResponse renders it."""
    text = json.dumps(
        error_body(detail, code), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    await send_json(send, status, text.encode(), headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.code), exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Not found."
        elif exc.status_code == 405:
            detail = "This method is not allowed here."
        code = getattr(exc, "code", None) or DEFAULT_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(detail, code),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            item = {k: v for k, v in err.items() if k in ("type", "loc", "msg")}
            errors.append(item)
        return JSONResponse(error_body(errors, "validation_error"), 422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(INTERNAL_DETAIL, "internal_error"), 500)
