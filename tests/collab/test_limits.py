"""One size limit for a document on every path: a live update that would take the text past
MDREADER_MAX_DOCUMENT_BYTES is refused — not stored, not acknowledged, not relayed — and the
client is told; once the text is short enough again, a resync saves it."""

from __future__ import annotations

import json
from typing import Any

from mdreader.collab import protocol as p
from tests.collab.harness import NodeClients, eventually
from tests.conftest import Factory


async def test_an_update_past_the_limit_is_refused_and_the_client_told(
    factory: Factory, live, app: Any, node: NodeClients
):
    app.state.settings.max_document_bytes = 1000
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "start")
    await node.open("writer", live.base, doc["id"], owner.access_token)
    await node.open("reader", live.base, doc["id"], owner.access_token)
    await node.wait("writer", "synced")
    await node.wait("reader", "synced")

    await node.call("insert", cid="writer", index=5, text="é" * 600)  # 1200 bytes more
    state = await node.wait("writer", "stateless", 1)
    notice = json.loads(state["stateless"][0])
    assert notice["code"] == "too_large" and notice["limit"] == 1000
    assert "size limit" in notice["detail"]
    assert state["unsynced"] > 0  # not acknowledged
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "start"
    assert (await node.state("reader"))["text"] == "start"

    # Shorter again: the client resyncs, and the merged change fits and is saved.
    await node.call("setText", cid="writer", text="start, shortened")
    await node.call("forceSync", cid="writer")
    await node.wait("writer", "acked")
    await node.wait("reader", "text", "start, shortened")

    async def rest_sees_it() -> None:
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == "start, shortened"

    await eventually(rest_sees_it)


async def test_a_y_websocket_client_past_the_limit_is_disconnected(
    factory: Factory, live, app: Any, node: NodeClients
):
    app.state.settings.max_document_bytes = 100
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "small")
    await node.open_yws("y", live.base, doc["id"], owner.access_token)
    await node.wait("y", "text", "small")
    await node.call("insert", cid="y", index=0, text="x" * 500)
    state = await node.wait("y", "closed")
    assert state["closes"][0]["code"] == p.CLOSE_TOO_LARGE
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "small"
