"""Real @hocuspocus/provider and y-websocket clients co-editing through the server."""

from __future__ import annotations

import asyncio

from tests.collab.harness import NodeClients, eventually
from tests.conftest import Factory


async def _world(factory: Factory, content: str = "") -> tuple[dict, dict, object]:
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Live", content)
    return ws, doc, owner


async def test_a_dozen_clients_converge_with_concurrent_inserts(factory, live, node: NodeClients):
    _ws, doc, owner = await _world(factory, "start\n")
    cids = [f"c{i}" for i in range(12)]
    for cid in cids:
        await node.open(cid, live.base, doc["id"], owner.access_token)
    for cid in cids:
        s = await node.wait(cid, "synced")
        assert s["scope"] == "read-write"
        assert s["text"] == "start\n"
    await asyncio.gather(
        *(
            node.call("burst", cid=cid, count=20, prefix=chr(ord("A") + i))
            for i, cid in enumerate(cids)
        )
    )
    expected_len = len("start\n") + 12 * 20
    for cid in cids:
        await node.wait(cid, "length", expected_len)
    texts = {(await node.wait(cid, "acked"))["text"] for cid in cids}
    assert len(texts) == 1
    (text,) = texts
    assert len(text) == expected_len
    for i in range(12):
        assert text.count(chr(ord("A") + i)) == 20

    # Acknowledged means durable: REST reads the same text.
    async def rest_sees_it():
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == text

    await eventually(rest_sees_it)


async def test_rest_writes_reach_open_editors_and_live_edits_reach_rest(factory, live, node):
    _ws, doc, owner = await _world(factory, "Hello world\n")
    await node.open("h", live.base, doc["id"], owner.access_token)
    await node.open_yws("y", live.base, doc["id"], owner.access_token)
    await node.wait("h", "synced")
    await node.wait("y", "text", "Hello world\n")

    r = await factory.client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": "Hello brave world\n"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    await node.wait("h", "text", "Hello brave world\n")
    await node.wait("y", "text", "Hello brave world\n")

    await node.call("insert", cid="h", index=0, text="# ")
    await node.wait("h", "acked")
    await node.wait("y", "text", "# Hello brave world\n")
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "# Hello brave world\n"

    await node.call("insert", cid="y", index=None, text="from y-websocket\n")
    await node.wait("h", "text", "# Hello brave world\nfrom y-websocket\n")

    async def rest_has_it():
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == "# Hello brave world\nfrom y-websocket\n"

    await eventually(rest_has_it)


async def test_metrics_count_connections_documents_updates_and_ack_latency(
    factory: Factory, live, node: NodeClients
):
    _ws, doc, owner = await _world(factory, "")
    await node.open("m", live.base, doc["id"], owner.access_token)
    await node.wait("m", "synced")
    for i in range(3):
        await node.call("insert", cid="m", index=0, text=str(i))
    await node.wait("m", "acked")
    text = (await factory.client.get("/metrics")).text

    def value(name: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} is not in /metrics")

    assert value("mdreader_collab_connections") == 1
    assert value("mdreader_collab_documents_loaded") == 1
    assert value("mdreader_collab_updates_total") >= 3
    assert value("mdreader_collab_ack_seconds_count") >= 3
