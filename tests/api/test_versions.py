"""Versions: taken after a quiet period and on request, listed, read, diffed, restored
through the live Yjs state (recording the replaced state first)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mdreader.db.models import Document
from mdreader.services import documents as docs
from mdreader.services.compaction import compact
from mdreader.ytext import make_doc, text_of
from tests.conftest import make_settings


async def _versions(client, doc, user):
    r = await client.get(f"/api/documents/{doc['id']}/versions", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def eventually(check, within=5.0):
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)


async def test_create_list_get(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "one")
    (first,) = await _versions(client, doc, owner)
    assert first["author"]["id"] == owner.id and first["label"] is None
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "two"}, headers=owner.headers
    )
    r = await client.post(
        f"/api/documents/{doc['id']}/versions", json={"label": "Draft 2"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    listed = await _versions(client, doc, owner)
    assert [v["label"] for v in listed] == ["Draft 2", None]  # newest first
    assert set(listed[0]) == {"id", "created_at", "author", "label"}
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{listed[0]['id']}", headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["content"] == "two"
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{first['id']}", headers=owner.headers
    )
    assert r.json()["content"] == "one" and r.json()["title"] == "Doc"
    # A version of another document is not found through this one.
    other = await factory.document(ws, owner, "Other", "x")
    r = await client.get(
        f"/api/documents/{other['id']}/versions/{first['id']}", headers=owner.headers
    )
    assert r.status_code == 404
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{uuid.uuid4()}", headers=owner.headers
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/documents/{doc['id']}/versions", json={"label": "x" * 201}, headers=owner.headers
    )
    assert r.status_code == 422


async def test_roles(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    doc = await factory.document(ws, owner, "Doc", "one")
    (v,) = await _versions(client, doc, viewer)
    r = await client.post(f"/api/documents/{doc['id']}/versions", json={}, headers=viewer.headers)
    assert r.status_code == 403
    r = await client.post(
        f"/api/documents/{doc['id']}/versions/{v['id']}/restore", headers=viewer.headers
    )
    assert r.status_code == 403
    outsider = await factory.user("outsider")
    r = await client.get(f"/api/documents/{doc['id']}/versions", headers=outsider.headers)
    assert r.status_code == 404


async def test_diff(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "alpha\nbeta\n")
    (v1,) = await _versions(client, doc, owner)
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "alpha\ngamma\n"}, headers=owner.headers
    )
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{v1['id']}/diff", headers=owner.headers
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-diff")
    assert r.text.splitlines() == [
        "--- current",
        f"+++ version/{v1['id']}",
        "@@ -1,2 +1,2 @@",
        " alpha",
        "-gamma",
        "+beta",
    ]
    r2 = await client.post(f"/api/documents/{doc['id']}/versions", json={}, headers=owner.headers)
    v2 = r2.json()
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{v2['id']}/diff",
        params={"against": v1["id"]},
        headers=owner.headers,
    )
    assert "-beta\n+gamma\n" in r.text
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{v2['id']}/diff",
        params={"against": str(uuid.uuid4())},
        headers=owner.headers,
    )
    assert r.status_code == 404
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{v2['id']}/diff",
        params={"against": "not-a-uuid"},
        headers=owner.headers,
    )
    assert r.status_code == 422


async def test_restore_goes_through_the_live_state(app, client, factory):
    services = app.state.services
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "original text")
    (v1,) = await _versions(client, doc, owner)
    await client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": "edited text", "title": "Edited"},
        headers=owner.headers,
    )
    r = await client.post(
        f"/api/documents/{doc['id']}/versions/{v1['id']}/restore", headers=owner.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["content"] == "original text" and r.json()["title"] == "Doc"
    # The replaced state was kept first, and the restore is an update in the Yjs log, so an
    # editor holding the document sees it.
    listed = await _versions(client, doc, owner)
    assert listed[0]["label"].startswith("Before restoring")
    # Named by the restored version's label or moment, never by an id.
    assert v1["id"] not in listed[0]["label"]
    assert listed[0]["label"].startswith("Before restoring the version of 20")
    r = await client.get(
        f"/api/documents/{doc['id']}/versions/{listed[0]['id']}", headers=owner.headers
    )
    assert r.json()["content"] == "edited text"
    async with services.db.read_session() as session:
        updates = await docs.pending_updates(session, uuid.UUID(doc["id"]))
        state = (await session.get(Document, uuid.UUID(doc["id"]))).ystate
    assert text_of(make_doc(state, updates)) == "original text"
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "original text"
    hits = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": "original"}, headers=owner.headers
    )
    assert len(hits.json()) == 1


@pytest.fixture
async def quiet_app(tmp_path, database_url, outbox):
    """The app with a short quiet period, so that automatic versions come quickly."""
    from mdreader.app import create_app

    application = create_app(
        make_settings(tmp_path, database_url, version_quiet_period=0.05), mailer=outbox
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_versions_after_a_quiet_period(quiet_app, factory):
    import httpx

    from tests.conftest import Factory

    services = quiet_app.state.services
    transport = httpx.ASGITransport(app=quiet_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        f = Factory(client, factory.outbox)
        owner = await f.user("owner")
        ws = await f.workspace(owner)
        doc = await f.document(ws, owner, "Doc", "v1")
        for text in ("v2", "v3", "v4"):  # one burst of edits: one version at its end
            await client.patch(
                f"/api/documents/{doc['id']}", json={"content": text}, headers=owner.headers
            )
        await services.compactor.flush()

        async def one_more():
            listed = await _versions(client, doc, owner)
            assert len(listed) == 2, listed
            return listed

        listed = await eventually(one_more)
        r = await client.get(
            f"/api/documents/{doc['id']}/versions/{listed[0]['id']}", headers=owner.headers
        )
        assert r.json()["content"] == "v4" and r.json()["author"]["id"] == owner.id
        # Nothing changed since: compaction with no change keeps no new version.
        assert await compact(services, uuid.UUID(doc["id"])) == 0
        await services.versioner.flush()
        assert len(await _versions(client, doc, owner)) == 2


async def test_pending_versions_are_taken_at_shutdown(tmp_path, database_url, outbox):
    import httpx

    from mdreader.app import create_app
    from tests.conftest import Factory

    application = create_app(
        make_settings(tmp_path, database_url, version_quiet_period=3600), mailer=outbox
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            f = Factory(client, outbox)
            owner = await f.user("owner")
            ws = await f.workspace(owner)
            doc = await f.document(ws, owner, "Doc", "v1")
            await client.patch(
                f"/api/documents/{doc['id']}", json={"content": "v2"}, headers=owner.headers
            )
            assert len(await _versions(client, doc, owner)) == 1
            services = application.state.services
    # The compactor's last flush scheduled a version; the versioner took it on the way out.
    async with services.db.read_session() as session:
        from sqlalchemy import select

        from mdreader.db.models import DocumentVersion

        contents = list(
            await session.scalars(
                select(DocumentVersion.content).where(
                    DocumentVersion.document_id == uuid.UUID(doc["id"])
                )
            )
        )
    assert sorted(contents) == ["v1", "v2"]
