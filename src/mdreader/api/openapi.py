"""The OpenAPI document, with the error answers every route can give.

FastAPI describes what a route returns when all goes well. The errors come from layers it
does not see: the guard (401, and 403/404 for a policy rule), the request limits (429 on
every /api route), the input checks (413 for a body, 422 for anything), and each handler's
own refusals, which the route declares with ``errors(...)`` (409, 415, 400, ...). All of
them have the contract's shape, ``ErrorBody``. tests/api/test_openapi.py fuzzes the server with
schemathesis against this document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

DESCRIPTIONS = {
    400: "Bad request: the input is not usable (a sentence says why).",
    401: "Not signed in, or the access token is invalid or expired.",
    403: "Signed in, but this role may not do this.",
    404: "Not found, or not visible to you.",
    409: "In conflict with the current state.",
    413: "Too large.",
    415: "A media type that is not accepted.",
    422: "Invalid input: a field fails validation (the list form), or the text cannot be "
    "stored (a NUL character or half of a surrogate pair).",
    429: "Rate limited: try again after `Retry-After` seconds.",
    503: "A service the server needs does not answer.",
}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}},
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"}}}


class ErrorBody(BaseModel):
    """The contract's error shape."""

    detail: str | list[dict[str, Any]] = Field(
        description="a sentence for people (validation errors: FastAPI's list)"
    )
    code: str = Field(description="a machine word, e.g. not_found, rate_limited")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route's own refusals."""
    return {s: {"model": ErrorBody, "description": DESCRIPTIONS[s]} for s in statuses}


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also those of included routers."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield route


def _guard_of(route: APIRoute) -> Any:
    found: list[Any] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            marker = getattr(dep.call, "__policy__", None)
            if marker is not None:
                found.append(marker)
            else:
                walk(dep)

    walk(route.dependant)
    return found[0] if found else getattr(route.endpoint, "__policy__", None)


def generic_errors(route: APIRoute) -> set[int]:
    """What the layers around a route can answer, whatever its handler does."""
    statuses = {422}  # the input checks look at every request (path, query, body)
    if route.path.startswith("/api/"):
        statuses.add(429)
    if route.body_field is not None:
        statuses.add(413)
    guard = _guard_of(route)
    if guard is not None and guard != "public":
        statuses.add(401)
        if guard != "authenticated":
            statuses |= {403, 404}
    return statuses


def _reference(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status == 429:
        answer["headers"] = RETRY_AFTER
    if status == 401:
        answer["headers"] = WWW_AUTHENTICATE
    return answer


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with every route's error answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for route in api_routes(app.routes):
            if not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(generic_errors(route)):
                    # Replaces FastAPI's own 422 (HTTPValidationError has no `code`).
                    if str(status) not in responses or status == 422:
                        responses[str(status)] = _reference(status)
                for status, answer in responses.items():
                    if status in ("401", "429"):
                        answer.setdefault("headers", _reference(int(status))["headers"])
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
