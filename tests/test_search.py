"""Full-text search: ranked, with escaped snippets, kept current by REST writes and by the
compaction of live edits; the same answers on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import uuid

from mdreader.db.models import Document
from mdreader.services import documents as docs
from mdreader.services.compaction import compact


async def _search(client, ws, user, q, **params):
    r = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": q, **params}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_ranked_with_snippets(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    once = await factory.document(ws, owner, "Notes", "a line about kiwis and other fruit")
    title = await factory.document(ws, owner, "Kiwi growing", "how to grow them in the garden")
    many = await factory.document(ws, owner, "Orchard", "kiwi kiwi kiwi: kiwi harvest, kiwi jam")
    await factory.document(ws, owner, "Unrelated", "nothing to see")
    hits = await _search(client, ws, owner, "kiwi")
    ids = [h["document_id"] for h in hits]
    assert set(ids) == {once["id"], title["id"], many["id"]}
    assert ids[-1] == once["id"]  # one mention in the body ranks last
    by_id = {h["document_id"]: h for h in hits}
    assert "<mark>kiwi</mark>" in by_id[many["id"]]["snippet"].lower()
    assert by_id[title["id"]]["title"] == "Kiwi growing"
    # Several words (all must match, the last as a prefix), paging.
    assert [h["document_id"] for h in await _search(client, ws, owner, "jam harv")] == [many["id"]]
    assert await _search(client, ws, owner, "harv jam") == []
    assert len(await _search(client, ws, owner, "kiwi", limit=1)) == 1
    assert len(await _search(client, ws, owner, "kiwi", limit=2, offset=2)) == 1


async def test_snippets_are_escaped(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "X", 'fish & <script>alert("zebra")</script> after')
    (hit,) = await _search(client, ws, owner, "zebra")
    assert "<script>" not in hit["snippet"]
    assert "&amp;" in hit["snippet"]
    assert "<mark>zebra</mark>" in hit["snippet"]


async def test_odd_queries_are_not_errors(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "Doc", "plain words here")
    for q in ['"unclosed', "a OR (b", "NEAR(x y)", "*", "-", "words:*", "'; DROP TABLE x; --"]:
        await _search(client, ws, owner, q)
    assert await _search(client, ws, owner, "!!!") == []
    r = await client.get(f"/api/workspaces/{ws['id']}/search", headers=owner.headers)
    assert r.status_code == 422


async def test_scoped_to_workspace_and_excludes_trash(client, factory):
    owner = await factory.user("owner")
    other = await factory.user("other")
    ws = await factory.workspace(owner)
    elsewhere = await factory.workspace(other)
    await factory.document(elsewhere, other, "Secret", "platypus")
    doc = await factory.document(ws, owner, "Mine", "platypus")
    viewer = await factory.member(ws, owner, "viewer")
    assert [h["document_id"] for h in await _search(client, ws, viewer, "platypus")] == [doc["id"]]
    r = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": "platypus"}, headers=other.headers
    )
    assert r.status_code == 404
    await client.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert await _search(client, ws, owner, "platypus") == []
    await client.post(f"/api/documents/{doc['id']}/restore", headers=owner.headers)
    assert len(await _search(client, ws, owner, "platypus")) == 1


async def test_rest_writes_update_the_index_at_once(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "the old wombat")
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": "a new quokka", "title": "Renamed narwhal"},
        headers=owner.headers,
    )
    assert r.status_code == 200
    assert await _search(client, ws, owner, "wombat") == []
    assert len(await _search(client, ws, owner, "quokka")) == 1
    assert len(await _search(client, ws, owner, "narwhal")) == 1


async def test_compaction_of_live_edits_updates_the_index(app, client, factory):
    """A live edit only appends to the update log; compaction folds it into the content and
    the search text together."""
    services = app.state.services
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "first draft")
    async with services.db.session() as session:
        document = await session.get(Document, uuid.UUID(doc["id"]))
        await docs.write_content(services, session, document, "first draft with a capybara", None)
    assert await _search(client, ws, owner, "capybara") == []
    assert await compact(services, uuid.UUID(doc["id"])) == 1
    assert [h["document_id"] for h in await _search(client, ws, owner, "capybara")] == [doc["id"]]


async def test_planner_settings_do_not_outlive_the_query(app, factory):
    """On PostgreSQL the search sets two planner settings for its own query only."""
    from sqlalchemy import text

    from mdreader.services.search import search

    services = app.state.services
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "Doc", "okapi")
    postgresql = services.db.dialect == "postgresql"

    async def planner(session):
        if not postgresql:
            return None
        cost = (await session.execute(text("SHOW random_page_cost"))).scalar()
        return cost, (await session.execute(text("SHOW plan_cache_mode"))).scalar()

    async with services.db.read_session() as session:
        before = await planner(session)
        assert len(await search(session, uuid.UUID(ws["id"]), "okapi")) == 1
        assert await planner(session) == before
