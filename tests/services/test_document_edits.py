"""Group commit of document PATCHes (services.documents.EditQueue): concurrent edits share a
transaction, each is answered with the committed document, and one bad edit fails alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader.db.engine import DatabaseBusy
from mdreader.db.models import Document, DocumentUpdate
from mdreader.errors import AppError
from mdreader.services import documents as svc
from mdreader.services import search
from tests.conftest import Factory


async def _doc(factory: Factory, content: str = "start"):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    doc = await factory.document(ws, owner, "Shared", content)
    return owner, editor, ws, doc


async def test_concurrent_patches_all_land_and_agree(client, factory: Factory, app):
    owner, editor, ws, doc = await _doc(factory)
    url = f"/api/documents/{doc['id']}"
    titles = [f"Title {i}" for i in range(30)]
    users = [owner, editor]
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"title": t}, headers=users[i % 2].headers)
            for i, t in enumerate(titles)
        )
    )
    assert [r.status_code for r in responses] == [200] * len(titles)
    final = (await client.get(url, headers=owner.headers)).json()
    assert final["title"] in titles
    assert all(r.json()["title"] in titles for r in responses)
    # The last batch's answer is the document as it stands; the index agrees with it.
    assert final["title"] in {r.json()["title"] for r in responses}
    hits = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": final["title"]}, headers=owner.headers
    )
    assert hits.status_code == 200
    assert doc["id"] in [h["document_id"] for h in hits.json()]
    assert final["updated_by"] in (owner.id, editor.id)


async def test_concurrent_text_edits_log_at_most_one_update_each(client, factory: Factory, app):
    owner, editor, _, doc = await _doc(factory)
    url = f"/api/documents/{doc['id']}"
    texts = [f"# Version {i}\n\nbody {i}\n" for i in range(12)]
    responses = await asyncio.gather(
        *(client.patch(url, json={"content": t}, headers=editor.headers) for t in texts)
    )
    assert all(r.status_code == 200 for r in responses)
    final = (await client.get(url, headers=owner.headers)).json()["content"]
    assert final in texts
    async with app.state.services.db.session() as session:
        logged = await session.scalar(
            select(func.count())
            .select_from(DocumentUpdate)
            .where(DocumentUpdate.document_id == uuid.UUID(doc["id"]))
        )
    assert logged is not None and logged <= len(texts) + 1


async def test_a_bad_move_fails_alone(client, factory: Factory):
    owner, editor, ws, doc = await _doc(factory)
    child = await factory.document(ws, owner, "Child", parent_id=doc["id"])
    url = f"/api/documents/{doc['id']}"
    cycle, rename = await asyncio.gather(
        client.patch(url, json={"parent_id": child["id"], "title": "Never"}, headers=owner.headers),
        client.patch(url, json={"title": "Renamed"}, headers=editor.headers),
    )
    assert cycle.status_code == 409 and cycle.json()["code"] == "cycle"
    assert rename.status_code == 200 and rename.json()["title"] == "Renamed"
    now = (await client.get(url, headers=owner.headers)).json()
    assert now["title"] == "Renamed" and now["parent_id"] is None


async def test_trashed_meanwhile_is_404(client, factory: Factory, app):
    owner, _, _, doc = await _doc(factory)
    edits = app.state.services.edits
    assert (
        await client.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    ).status_code == 204
    with pytest.raises(AppError) as err:
        await edits.submit(svc.Edit(uuid.UUID(doc["id"]), uuid.UUID(owner.id), title="Late"))
    assert err.value.status == 404


async def test_a_failing_transaction_is_retried_edit_by_edit(
    client, factory: Factory, app, monkeypatch
):
    owner, _, ws, doc = await _doc(factory)
    other = await factory.document(ws, owner, "Other")
    real_index = search.index

    async def index(session, document_id, workspace_id, title, body):
        if title == "boom":
            raise RuntimeError("the index refused")
        await real_index(session, document_id, workspace_id, title, body)

    monkeypatch.setattr(search, "index", index)
    edits = app.state.services.edits
    user = uuid.UUID(owner.id)
    good, bad = await asyncio.gather(
        edits.submit(svc.Edit(uuid.UUID(doc["id"]), user, title="fine")),
        edits.submit(svc.Edit(uuid.UUID(other["id"]), user, title="boom")),
        return_exceptions=True,
    )
    assert not isinstance(good, BaseException) and good[0].title == "fine"
    assert isinstance(bad, RuntimeError)
    r = await client.get(f"/api/documents/{other['id']}", headers=owner.headers)
    assert r.json()["title"] == "Other"  # nothing of the failed edit was stored


async def test_updated_by_is_the_last_to_change_it(client, factory: Factory, app):
    owner, editor, _, doc = await _doc(factory)
    edits = app.state.services.edits
    did = uuid.UUID(doc["id"])
    first, second = await asyncio.gather(
        edits.submit(svc.Edit(did, uuid.UUID(owner.id), content="owner's text")),
        edits.submit(svc.Edit(did, uuid.UUID(editor.id), title="Editor's title")),
    )
    assert first[0] is second[0]  # one batch, one committed document
    assert str(second[0].updated_by) == editor.id
    _, fourth = await asyncio.gather(
        edits.submit(svc.Edit(did, uuid.UUID(editor.id), title="Title again")),
        edits.submit(svc.Edit(did, uuid.UUID(owner.id), content="owner's text, later")),
    )
    assert str(fourth[0].updated_by) == owner.id


@pytest.mark.parametrize(
    ("error", "attempts"), [(DatabaseBusy(), 1), (RuntimeError("one edit's data"), 4)]
)
async def test_database_trouble_fails_the_batch_at_once(
    client, factory: Factory, app, monkeypatch, error, attempts
):
    """Split a failed batch edit by edit only when one edit may be the cause; a busy or
    unreachable database would make every retry wait its timeout again."""
    owner, _, ws, doc = await _doc(factory)
    others = [await factory.document(ws, owner, f"Other {i}") for i in range(2)]
    edits = app.state.services.edits
    calls = []

    async def failing(batch):
        calls.append(len(batch))
        raise error

    monkeypatch.setattr(edits, "_commit", failing)
    user = uuid.UUID(owner.id)
    ids = [uuid.UUID(d["id"]) for d in (doc, *others)]
    if edits._per_document:  # PostgreSQL: one queue (and batch) per document
        ids = [ids[0]] * 3
    results = await asyncio.gather(
        *(edits.submit(svc.Edit(i, user, title="x")) for i in ids), return_exceptions=True
    )
    assert all(isinstance(r, type(error)) for r in results)
    assert len(calls) == attempts and calls[0] == 3


async def test_a_locked_document_holds_up_only_its_own_edits(client, factory: Factory, app):
    owner, _, ws, doc = await _doc(factory)
    other = await factory.document(ws, owner, "Other")
    services = app.state.services
    if services.db.dialect != "postgresql":
        # SQLite has one writer at a time: one queue for every document.
        assert services.edits._per_document is False
        return
    engine = create_async_engine(services.settings.database_url)
    try:
        async with engine.begin() as conn:  # another worker holds the row lock
            await conn.execute(
                select(Document.id).where(Document.id == uuid.UUID(doc["id"])).with_for_update()
            )
            blocked = asyncio.ensure_future(
                client.patch(
                    f"/api/documents/{doc['id']}", json={"title": "Waits"}, headers=owner.headers
                )
            )
            r = await asyncio.wait_for(
                client.patch(
                    f"/api/documents/{other['id']}", json={"title": "Free"}, headers=owner.headers
                ),
                timeout=5,
            )
            assert r.status_code == 200 and r.json()["title"] == "Free"
            assert not blocked.done()
        r = await asyncio.wait_for(blocked, timeout=5)
        assert r.status_code == 200 and r.json()["title"] == "Waits"
    finally:
        await engine.dispose()


async def test_a_failing_after_commit_step_does_not_fail_the_write(app, caplog):
    from mdreader.db.engine import after_commit

    async def broken() -> None:
        raise ConnectionError("the cache is out of reach")

    async with app.state.services.db.session() as session:
        after_commit(session, broken)
    assert "after-commit step failed" in caplog.text
