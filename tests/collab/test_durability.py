"""Acknowledged means durable: a server killed with SIGKILL loses nothing it acknowledged,
and clients reconnecting to the restarted server end up with the text once, not twice."""

from __future__ import annotations

import asyncio
import base64
import string
import uuid
from typing import Any

import pytest
from pycrdt import Doc, Text
from sqlalchemy import func, select

from mdreader.db.models import DocumentUpdate
from mdreader.services.compaction import compact
from mdreader.ytext import TEXT_NAME
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


def _dependent_updates() -> list[bytes]:
    """Three updates of one client, each depending on the one before: an insertion, an
    insertion after it, a deletion inside the first."""
    author: Doc = Doc()
    text = author.get(TEXT_NAME, type=Text)
    updates = []
    for edit in (
        lambda: text.insert(0, "hello"),
        lambda: text.insert(5, " world"),
        lambda: text.__delitem__(slice(0, 2)),
    ):
        before = author.get_state()
        edit()
        updates.append(author.get_update(before))
    assert str(text) == "llo world"
    return updates


async def _log_rows(app: Any, document_id: str) -> int:
    async with app.state.services.db.session() as session:
        return await session.scalar(
            select(func.count())
            .select_from(DocumentUpdate)
            .where(DocumentUpdate.document_id == uuid.UUID(document_id))
        )


@pytest.mark.parametrize("kind", ["hocuspocus", "yws"])
async def test_dependent_updates_out_of_order_survive_compaction_and_restart(
    app: Any, factory: Factory, settings, node: NodeClients, kind: str
):
    """An update that arrives before the one it depends on is acknowledged, logged, kept
    through a compaction that runs before its dependency arrives, and is in the text the
    server keeps (after compaction, and after a restart) once the dependency came."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Out of order", "")
    first, second, deletion = _dependent_updates()
    env = server_env(settings)
    server = await ServerProcess(env).start()
    try:
        if kind == "yws":
            await node.open_yws("sender", server.base, doc["id"], owner.access_token)
        else:
            await node.open("sender", server.base, doc["id"], owner.access_token)
        await node.open("reader", server.base, doc["id"], owner.access_token)
        await node.wait("sender", "synced")
        await node.wait("reader", "synced")

        # The second insertion and the deletion first: the server can only keep them aside.
        for update in (second, deletion):
            await node.call("sendUpdate", cid="sender", update=base64.b64encode(update).decode())
        if kind == "hocuspocus":
            await node.wait("sender", "acked")

        async def logged() -> None:
            assert await _log_rows(app, doc["id"]) == 2

        await eventually(logged)
        # A compaction now has nothing visible to fold in, but must keep both.
        await compact(app.state.services, uuid.UUID(doc["id"]))  # (or the server's own did)
        assert await _log_rows(app, doc["id"]) == 0

        await node.call("sendUpdate", cid="sender", update=base64.b64encode(first).decode())
        await node.wait("reader", "text", "llo world")

        async def stored() -> None:
            r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
            assert r.json()["content"] == "llo world"

        await eventually(stored)
        await compact(app.state.services, uuid.UUID(doc["id"]))
        await stored()

        # A restart reads only what was stored.
        await server.kill()
        server = await ServerProcess({**env, "MDREADER_TEST_PORT": str(server.port)}).start()
        await node.open("late", server.base, doc["id"], owner.access_token)
        assert (await node.wait("late", "synced"))["text"] == "llo world"
        await stored()
    finally:
        await server.kill()


async def test_compaction_keeps_pending_log_rows(app: Any, factory: Factory):
    """Straight on the log: rows logged out of order are compacted without losing the pending
    ones; REST reads the text once what they depend on is logged."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Log", "")
    document_id = uuid.UUID(doc["id"])
    services = app.state.services
    first, second, deletion = _dependent_updates()

    async def log(update: bytes) -> None:
        async with services.db.session() as session:
            session.add(DocumentUpdate(document_id=document_id, data=update))

    async def content() -> str:
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        return r.json()["content"]

    await log(deletion)
    await log(second)
    assert await compact(services, document_id) == 2
    assert await content() == ""
    await log(first)
    assert await content() == "llo world"
    assert await compact(services, document_id) == 1
    assert await _log_rows(app, doc["id"]) == 0
    assert await content() == "llo world"
