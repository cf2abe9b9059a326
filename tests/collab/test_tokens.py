"""Personal access tokens on the WebSocket: accepted wherever an access token is, narrowed by
their scope and workspace, and dropped once revoked."""

from __future__ import annotations

from tests.collab.harness import NodeClients
from tests.conftest import Factory


async def _token(factory: Factory, user, **body) -> dict:
    r = await factory.client.post(
        "/api/auth/tokens", json={"name": "ws", **body}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_write_token_edits_and_a_read_token_only_reads(factory: Factory, live, node):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "hello")
    write = (await _token(factory, owner, scope="write"))["token"]
    read = (await _token(factory, owner, scope="read"))["token"]
    await node.open("writer", live.base, doc["id"], write)
    await node.open("reader", live.base, doc["id"], read)
    assert (await node.wait("writer", "synced"))["scope"] == "read-write"
    s = await node.wait("reader", "synced")
    assert s["scope"] == "readonly" and s["text"] == "hello"
    await node.call("insert", cid="writer", index=None, text=" world")
    await node.wait("writer", "acked")
    await node.call("insert", cid="reader", index=0, text="NO ")
    await node.wait("reader", "text", "NO hello world")
    assert (await node.state("reader"))["unsynced"] > 0
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "hello world"
    # y-websocket takes the token in the query string, the same way.
    await node.open_yws("yws", live.base, doc["id"], write)
    assert (await node.wait("yws", "synced"))["text"] == "hello world"


async def test_a_workspace_token_opens_nothing_else_and_revoking_drops_it(
    factory: Factory, live, node: NodeClients
):
    owner = await factory.user("owner")
    mine = await factory.workspace(owner, "Mine")
    other = await factory.workspace(owner, "Other")
    inside = await factory.document(mine, owner, "In", "in")
    outside = await factory.document(other, owner, "Out", "out")
    made = await _token(factory, owner, scope="write", workspace_id=mine["id"])
    await node.open("out", live.base, outside["id"], made["token"])
    assert (await node.wait("out", "denied"))["denied"][0] == "permission-denied"
    await node.open("in", live.base, inside["id"], made["token"])
    assert (await node.wait("in", "synced"))["text"] == "in"
    r = await factory.client.delete(f"/api/auth/tokens/{made['id']}", headers=owner.headers)
    assert r.status_code == 204
    # The next re-check of open connections drops it.
    assert (await node.wait("in", "denied"))["denied"][0] == "permission-denied"
