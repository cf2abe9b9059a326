"""The cached document read (api/hot.py): same answers as the route, never older than the
database, and every request still authenticated and counted."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader.api.hot import HotReads
from mdreader.db.models import Document
from tests.conftest import Factory


def hot_layer(app: Any) -> HotReads:
    layer = app.middleware_stack
    while not isinstance(layer, HotReads):
        layer = layer.app
    return layer


async def _reader(client, factory: Factory, role: str = "viewer"):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    reader = await factory.member(ws, owner, role)
    doc = await factory.document(ws, owner, "Cached", "# Cached\n\nfirst")
    return owner, ws, reader, doc


async def caches(app: Any) -> bool:
    """Only where the database offers a change stamp; elsewhere nothing is kept."""
    return await app.state.services.db.change_stamp() is not None


async def test_repeated_reads_are_identical_and_counted(client, factory: Factory, app):
    owner, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    first = await client.get(url, headers=reader.headers)
    assert first.status_code == 200 and first.json()["role"] == "viewer"
    hot = hot_layer(app)
    again = [await client.get(url, headers=reader.headers) for _ in range(3)]
    # Kept once a read saw no commit meanwhile (background compaction, or on PostgreSQL any
    # WAL record of the cluster, can move the stamp during the first ones).
    assert len(hot.cache) == (1 if await caches(app) else 0)
    for r in again:
        assert r.status_code == 200
        assert r.content == first.content
        assert r.headers["content-type"] == first.headers["content-type"]
        assert r.headers["x-request-id"] != first.headers["x-request-id"]
    # The owner's answer is the owner's (role), not the viewer's.
    mine = await client.get(url, headers=owner.headers)
    assert mine.json()["role"] == "owner" and mine.json()["content"] == first.json()["content"]
    metrics = (await client.get("/metrics")).text
    line = re.search(
        r'mdreader_http_requests_total\{method="GET",route="/api/documents/\{document_id\}",'
        r'status="200"\} (\d+)',
        metrics,
    )
    assert line is not None and float(line.group(1)) >= 5


async def test_a_write_is_seen_at_once(client, factory: Factory):
    owner, _, reader, doc = await _reader(client, factory, "editor")
    url = f"/api/documents/{doc['id']}"
    assert (await client.get(url, headers=reader.headers)).json()["title"] == "Cached"
    r = await client.patch(
        url, json={"title": "Renamed", "content": "second"}, headers=owner.headers
    )
    assert r.status_code == 200
    after = (await client.get(url, headers=reader.headers)).json()
    assert after["title"] == "Renamed" and after["content"] == "second"


async def test_a_write_by_another_connection_is_seen(client, factory: Factory, settings):
    """Another worker or the CLI writes through its own connection: the stamp moves too."""
    _, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await client.get(url, headers=reader.headers)).json()["title"] == "Cached"
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Document)
                .where(Document.id == uuid.UUID(doc["id"]))
                .values(title="From elsewhere")
            )
    finally:
        await engine.dispose()
    assert (await client.get(url, headers=reader.headers)).json()["title"] == "From elsewhere"


async def test_removed_member_and_trashed_document_are_not_served(client, factory: Factory):
    owner, ws, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await client.get(url, headers=reader.headers)).status_code == 200
    r = await client.delete(
        f"/api/workspaces/{ws['id']}/members/{reader.id}", headers=owner.headers
    )
    assert r.status_code == 204
    assert (await client.get(url, headers=reader.headers)).status_code == 404
    assert (await client.get(url, headers=owner.headers)).status_code == 200
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404


async def test_every_request_is_authenticated(client, factory: Factory):
    _, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await client.get(url, headers=reader.headers)).status_code == 200
    assert (await client.get(url)).status_code == 401
    bad = {"Authorization": reader.headers["Authorization"][:-2] + "xx"}
    assert (await client.get(url, headers=bad)).status_code == 401
    r = await client.post("/api/auth/logout", json={"refresh_token": reader.refresh_token})
    assert r.status_code in (200, 204)
    assert (await client.get(url, headers=reader.headers)).status_code == 401
