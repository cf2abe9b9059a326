"""Who may open a document over the WebSocket: the same policy as REST, checked live."""

from __future__ import annotations

import time

from tests.collab.harness import NodeClients, eventually
from tests.conftest import Factory


async def test_viewer_is_read_only_and_its_edits_are_never_stored(factory: Factory, live, node):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    doc = await factory.document(ws, owner, "Doc", "shared text")
    await node.open("owner", live.base, doc["id"], owner.access_token)
    await node.open("viewer", live.base, doc["id"], viewer.access_token)
    s = await node.wait("viewer", "synced")
    assert s["scope"] == "readonly"
    assert s["text"] == "shared text"
    # The viewer's initial sync carried nothing new, so it was acknowledged.
    await node.wait("viewer", "acked")

    await node.call("insert", cid="viewer", index=0, text="VANDAL ")
    await node.call("insert", cid="owner", index=None, text="!")
    await node.wait("owner", "acked")
    await node.wait("viewer", "text", "VANDAL shared text!")  # its own copy, plus the owner's
    s = await node.state("viewer")
    assert s["unsynced"] > 0  # answered with SyncStatus false: never acknowledged
    assert (await node.state("owner"))["text"] == "shared text!"
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "shared text!"


async def test_outsiders_bad_and_missing_tokens_are_denied(factory: Factory, live, node):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Secret", "secret")
    outsider = await factory.user("outsider")
    cases = {
        "outsider": (doc["id"], outsider.access_token),
        "bad-token": (doc["id"], "not-a-token"),
        "no-token": (doc["id"], None),
        "not-a-document": ("../../etc/passwd", owner.access_token),
        "unknown-document": ("00000000-0000-4000-8000-000000000000", owner.access_token),
    }
    for cid, (name, token) in cases.items():
        await node.open(cid, live.base, name, token)
    for cid in cases:
        s = await node.wait(cid, "denied")
        assert s["denied"][0] == "permission-denied"
        assert s["text"] == "" and not s["authenticated"]
    await node.open_yws("yws-outsider", live.base, doc["id"], outsider.access_token)
    await node.open_yws("yws-none", live.base, doc["id"], None)
    for cid in ("yws-outsider", "yws-none"):
        s = await node.wait(cid, "closed")
        assert s["closes"][0]["code"] == 4403
        assert s["text"] == ""


async def test_two_documents_share_one_socket(factory: Factory, live, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    first = await factory.document(ws, owner, "One", "one")
    second = await factory.document(ws, owner, "Two", "two")
    other = await factory.workspace(await factory.user("stranger"), "Other")
    await node.call("socket", sid="s", url=live.base.replace("http", "ws") + "/ws")
    await node.open("a", live.base, first["id"], owner.access_token, sid="s")
    await node.open("b", live.base, second["id"], owner.access_token, sid="s")
    assert (await node.wait("a", "synced"))["text"] == "one"
    assert (await node.wait("b", "synced"))["text"] == "two"
    assert len(live_sockets(factory)) == 1
    await node.call("insert", cid="a", index=3, text="+A")
    await node.call("insert", cid="b", index=3, text="+B")
    await node.wait("a", "acked")
    await node.wait("b", "acked")
    for d, text in ((first, "one+A"), (second, "two+B")):
        r = await factory.client.get(f"/api/documents/{d['id']}", headers=owner.headers)
        assert r.json()["content"] == text
    # A denied document on the same socket leaves the others alone.
    assert other["id"]
    await node.open(
        "c", live.base, "00000000-0000-4000-8000-000000000001", owner.access_token, sid="s"
    )
    await node.wait("c", "denied")
    await node.call("insert", cid="a", index=0, text=">")
    assert (await node.wait("a", "acked"))["text"] == ">one+A"


def live_sockets(factory: Factory) -> set:
    app = factory.client._transport.app  # type: ignore[attr-defined]
    return app.state.services.collab.sockets


async def test_removed_member_is_disconnected_within_seconds(factory: Factory, live, node):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    doc = await factory.document(ws, owner, "Doc", "text")
    await node.open("editor", live.base, doc["id"], editor.access_token)
    await node.open("owner", live.base, doc["id"], owner.access_token)
    await node.wait("editor", "synced")
    await node.wait("owner", "synced")
    r = await factory.client.delete(
        f"/api/workspaces/{ws['id']}/members/{editor.id}", headers=owner.headers
    )
    assert r.status_code == 204, r.text
    removed_at = time.monotonic()
    s = await node.wait("editor", "denied", within=10)
    assert time.monotonic() - removed_at < 5
    assert s["denied"][0] == "permission-denied"
    # What the removed member types now goes nowhere.
    await node.call("insert", cid="editor", index=0, text="after removal ")
    await node.call("insert", cid="owner", index=None, text=" still here")
    await node.wait("owner", "acked")

    async def owner_alone():
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == "text still here"

    await eventually(owner_alone)
    assert (await node.state("owner"))["text"] == "text still here"


async def test_demoted_editor_becomes_read_only(factory: Factory, live, node):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    doc = await factory.document(ws, owner, "Doc", "x")
    await node.open("editor", live.base, doc["id"], editor.access_token)
    assert (await node.wait("editor", "synced"))["scope"] == "read-write"
    r = await factory.client.patch(
        f"/api/workspaces/{ws['id']}/members/{editor.id}",
        json={"role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text

    async def readonly():
        assert (await node.state("editor"))["scope"] == "readonly"

    await eventually(readonly, within=6)
    await node.call("insert", cid="editor", index=0, text="no ")
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "x"
