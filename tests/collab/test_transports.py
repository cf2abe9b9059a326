"""The two ways frames travel: the frame channel of ``mdreader serve``'s WebSocket protocol,
and plain ASGI under another server (uvicorn's own protocols here)."""

from __future__ import annotations

import asyncio
from typing import Any

from mdreader.collab.asgi import ChannelTransport, WebSocketTransport
from tests.collab.harness import InProcessServer, NodeClients, eventually
from tests.conftest import Factory


async def _edit_together(factory: Factory, base: str, node: NodeClients) -> None:
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Live", "start\n")
    for cid in ("a", "b", "y"):
        if cid == "y":
            await node.open_yws(cid, base, doc["id"], owner.access_token)
        else:
            await node.open(cid, base, doc["id"], owner.access_token)
    await node.wait("a", "synced")
    await node.wait("b", "synced")
    await node.wait("y", "text", "start\n")
    await asyncio.gather(
        node.call("burst", cid="a", count=30, prefix="A"),
        node.call("burst", cid="b", count=30, prefix="B"),
    )
    expected = len("start\n") + 60
    for cid in ("a", "b", "y"):
        await node.wait(cid, "length", expected)
    text = (await node.wait("a", "acked"))["text"]
    assert (await node.wait("b", "acked"))["text"] == text
    assert text.count("A") == 30 and text.count("B") == 30

    async def stored() -> None:  # acknowledged: in the database
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == text

    await eventually(stored)


def _transports(app: Any) -> set[type]:
    return {type(sock.transport) for sock in app.state.services.collab.sockets}


async def test_mdreader_serve_hands_frames_over_a_channel(factory, app, node: NodeClients):
    async with InProcessServer(app) as server:
        await _edit_together(factory, server.base, node)
        assert _transports(app) == {ChannelTransport}


async def test_under_another_asgi_server_frames_go_through_asgi(factory, app, node: NodeClients):
    async with InProcessServer(app, stock=True) as server:
        await _edit_together(factory, server.base, node)
        assert _transports(app) == {WebSocketTransport}
