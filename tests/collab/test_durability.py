"""Acknowledged means durable: a server killed with SIGKILL loses nothing it acknowledged,
and clients reconnecting to the restarted server end up with the text once, not twice."""

from __future__ import annotations

import asyncio
import string

from tests.collab.harness import NodeClients, ServerProcess, eventually, server_env
from tests.conftest import Factory


async def test_sigkill_loses_no_acknowledged_update(factory: Factory, settings, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Durable", "")
    env = server_env(settings)
    server = await ServerProcess(env).start()
    try:
        await node.open("typist", server.base, doc["id"], owner.access_token)
        await node.open("reader", server.base, doc["id"], owner.access_token)
        await node.wait("typist", "synced")
        await node.wait("reader", "synced")
        alphabet = (string.ascii_letters + string.digits) * 8
        await node.call("type", cid="typist", text=alphabet, interval=2)
        # Kill while typing goes on: some updates acknowledged, some in flight.
        await node.wait("typist", "typedAcks", 60)
        await server.kill()
        s = await node.call("stopTyping", cid="typist")
        typed = s["typed"]
        acknowledged = len(typed) - s["unsynced"]
        assert acknowledged >= 60

        # Straight from the database (the server is dead): every acknowledged character.
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        durable = r.json()["content"]
        assert durable.startswith(typed[:acknowledged]), (acknowledged, len(durable))
        assert typed.startswith(durable)

        # Same port again: the providers reconnect by themselves and re-send what was not
        # acknowledged; nothing is doubled.
        server = await ServerProcess({**env, "MDREADER_TEST_PORT": str(server.port)}).start()
        assert (await node.wait("typist", "acked", within=30))["text"] == typed
        await node.wait("reader", "text", typed, within=30)
        await node.open("late", server.base, doc["id"], owner.access_token)
        assert (await node.wait("late", "synced"))["text"] == typed

        async def stored():
            r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
            assert r.json()["content"] == typed

        await eventually(stored)
        # Kill again right after the acknowledgement: still all there.
        await node.call("insert", cid="late", index=0, text="<<")
        await node.wait("late", "acked")
        await server.kill()
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == "<<" + typed
    finally:
        await server.kill()
        await asyncio.sleep(0)
