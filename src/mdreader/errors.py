"""The contract's error shape: ``{"detail": "<sentence>", "code": "<machine_word>"}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def internal_error_body() -> dict[str, object]:
    """What a caller is told of a failure that is ours (the details go to the log)."""
    return error_body("Something went wrong on our side.", "internal_error")


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
        return JSONResponse(
            error_body(detail, DEFAULT_CODES.get(exc.status_code, "error")),
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
        return JSONResponse(internal_error_body(), 500)
