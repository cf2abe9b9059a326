"""The references: a bare ASGI app answering JSON of the same size (no framework, no database),
and the same answer from a one-route FastAPI app (the framework's own cost, for context)."""

from __future__ import annotations

import json

DOC = json.dumps(
    {"id": "00000000-0000-4000-8000-000000000000", "title": "Bench", "content": "x" * 2000}
).encode()


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = DOC
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _framework_app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI, Response

    api = FastAPI()

    @api.get("/api/documents/{document_id}")
    async def get_document(document_id: str) -> Response:
        return Response(DOC, media_type="application/json")

    @api.patch("/api/documents/{document_id}")
    async def patch_document(document_id: str) -> Response:
        return Response(DOC, media_type="application/json")

    return api


framework = _framework_app()
