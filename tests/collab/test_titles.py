"""The title is a second Y.Text ("title") of the live document: co-edited by real Hocuspocus
providers, read and written by REST through the same state, followed by the stored column,
and given to documents stored before titles were live exactly once, however many servers
load them."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, update

from mdreader.db.models import Document, DocumentUpdate
from mdreader.services.compaction import compact
from tests.collab.harness import NodeClients, ServerProcess, eventually, server_env
from tests.conftest import Factory


async def _world(factory: Factory, title: str = "Plan", content: str = "body\n"):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, title, content)
    return ws, doc, owner


async def _listed_title(factory: Factory, ws: dict, owner, doc_id: str) -> str:
    r = await factory.client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    return next(d["title"] for d in r.json() if d["id"] == doc_id)


async def test_two_providers_edit_one_title_concurrently_and_converge(
    factory, live, node: NodeClients, app
):
    ws, doc, owner = await _world(factory, "Plan")
    editor = await factory.member(ws, owner, "editor")
    await node.open("a", live.base, doc["id"], owner.access_token)
    await node.open("b", live.base, doc["id"], editor.access_token)
    for cid in ("a", "b"):
        assert (await node.wait(cid, "synced"))["title"] == "Plan"

    # Both type into the title at once, one key per update: a at the end, b at the start.
    await asyncio.gather(
        node.call("type", cid="a", field="title", text=" for the spring fair", interval=3),
        node.call("type", cid="b", field="title", text="Our ", interval=4, at="start"),
    )
    expected = "Our Plan for the spring fair"
    for cid in ("a", "b"):
        await node.wait(cid, "title", expected)
    for cid in ("a", "b"):
        assert (await node.wait(cid, "acked"))["title"] == expected

    # REST reads the live title at once; the stored column (the tree, search) follows.
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["title"] == expected
    await compact(app.state.services, uuid.UUID(doc["id"]))
    assert await _listed_title(factory, ws, owner, doc["id"]) == expected
    hits = await factory.client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": "spring"}, headers=owner.headers
    )
    assert [h["title"] for h in hits.json()] == [expected]

    # A REST rename reaches both open editors as a minimal edit of the same Y.Text.
    r = await factory.client.patch(
        f"/api/documents/{doc['id']}",
        json={"title": "Our Plan for the autumn fair"},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.json()["title"] == "Our Plan for the autumn fair"
    for cid in ("a", "b"):
        await node.wait(cid, "title", "Our Plan for the autumn fair")
    # ... and the column at once (the tree does not wait for compaction).
    assert await _listed_title(factory, ws, owner, doc["id"]) == "Our Plan for the autumn fair"


async def _make_legacy(app, doc_id: str, content: str) -> None:
    """Store the document as a server from before live titles did: no title in the state."""
    async with app.state.services.db.session() as session:
        await session.execute(
            delete(DocumentUpdate).where(DocumentUpdate.document_id == uuid.UUID(doc_id))
        )
        await session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(doc_id))
            .values(ystate=_legacy_state(content))
        )


def _legacy_state(content: str) -> bytes:
    from pycrdt import Doc, Text

    doc = Doc()
    doc.get("content", type=Text).insert(0, content)
    return doc.get_update()


async def test_a_document_from_before_live_titles_gets_its_title_once(
    factory, live, node: NodeClients, app, settings
):
    ws, doc, owner = await _world(factory, "Handbook", "text\n")
    await _make_legacy(app, doc["id"], "text\n")
    # Two servers load it, each seeding the title on its own: every client has it once, and
    # so has the stored state once both servers' edits are folded together.
    other = await ServerProcess(server_env(settings)).start()
    try:
        await node.open("here", live.base, doc["id"], owner.access_token)
        await node.open("there", other.base, doc["id"], owner.access_token)
        for cid in ("here", "there"):
            s = await node.wait(cid, "synced")
            assert s["title"] == "Handbook" and s["text"] == "text\n"
        await node.call("insert", cid="there", field="title", text=" 2025")
        await node.call("insert", cid="here", text="more\n")
        await node.wait("there", "acked")
        await node.wait("here", "acked")
        for cid in ("here", "there"):
            await node.call("destroy", cid=cid)
    finally:
        await other.stop()

    async def unloaded():  # without Redis the processes do not share live documents
        assert app.state.services.collab.get(doc["id"]) is None

    await eventually(unloaded, within=15, interval=0.1)
    await compact(app.state.services, uuid.UUID(doc["id"]))
    assert await _listed_title(factory, ws, owner, doc["id"]) == "Handbook 2025"
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert (r.json()["title"], r.json()["content"]) == ("Handbook 2025", "text\nmore\n")

    # Someone empties the title on purpose: it stays empty (not seeded again) after
    # compaction and a fresh load.
    await node.open("c1", live.base, doc["id"], owner.access_token)
    await node.wait("c1", "title", "Handbook 2025")
    await node.call("remove", cid="c1", field="title", index=0, length=len("Handbook 2025"))
    await node.wait("c1", "acked")
    await compact(app.state.services, uuid.UUID(doc["id"]))
    assert await _listed_title(factory, ws, owner, doc["id"]) == ""
    await node.call("destroy", cid="c1")
    await node.open("again", live.base, doc["id"], owner.access_token)
    assert (await node.wait("again", "synced"))["title"] == ""
    await node.call("insert", cid="again", field="title", index=0, text="Staff handbook")
    await node.wait("again", "acked")

    async def stored():
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["title"] == "Staff handbook"

    await eventually(stored)


async def test_live_edits_move_updated_at_and_updated_by(factory, live, node: NodeClients, app):
    ws, doc, owner = await _world(factory, "Minutes")
    older = await factory.document(ws, owner, "Older")
    editor = await factory.member(ws, owner, "editor")
    await node.open("e", live.base, doc["id"], editor.access_token)
    await node.wait("e", "synced")
    await node.call("insert", cid="e", text="Decided: yes\n")
    await node.wait("e", "acked")
    await compact(app.state.services, uuid.UUID(doc["id"]))
    r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    body = r.json()
    assert body["updated_by"] == editor.id
    assert body["updated_at"] > doc["updated_at"]
    # Lists ordered by it ("recently updated") put the live-edited document first.
    listed = await factory.client.get(
        f"/api/workspaces/{ws['id']}/documents", headers=owner.headers
    )
    newest = max(listed.json(), key=lambda d: d["updated_at"])
    assert newest["id"] == doc["id"] != older["id"]
