"""Documents: CRUD, the tree, trash, rendering, and content through the Yjs state."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from mdreader.db.models import DocumentUpdate
from mdreader.services.compaction import compact
from mdreader.ytext import make_doc, text_of
from tests.conftest import Factory


async def _setup(factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    return owner, ws


async def test_create_read_update(client, factory: Factory):
    owner, ws = await _setup(factory)
    doc = await factory.document(ws, owner, "Guide", "# Guide\n\nHello")
    assert doc["content"] == "# Guide\n\nHello" and doc["workspace_id"] == ws["id"]
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.status_code == 200
    assert {
        "id",
        "workspace_id",
        "parent_id",
        "title",
        "content",
        "created_at",
        "updated_at",
    } <= set(r.json())
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        json={"title": "Handbook", "content": "# Handbook ✓ 😀"},
        headers=owner.headers,
    )
    assert r.status_code == 200
    assert r.json()["title"] == "Handbook" and r.json()["content"] == "# Handbook ✓ 😀"
    r = await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    assert r.json() == [
        {
            "id": doc["id"],
            "parent_id": None,
            "title": "Handbook",
            "position": 0,
            "updated_at": r.json()[0]["updated_at"],
        }
    ]


async def test_content_goes_through_the_yjs_log_and_compacts(client, factory: Factory, app):
    owner, ws = await _setup(factory)
    doc = await factory.document(ws, owner, "Log", "line one\nline two\n")
    did = uuid.UUID(doc["id"])
    edits = ["line one\nline 2\n", "zero\nline one\nline 2\n", "zero\nline one 😀\nline 2\nend"]
    for text in edits:
        r = await client.patch(
            f"/api/documents/{doc['id']}", json={"content": text}, headers=owner.headers
        )
        assert r.json()["content"] == text
    services = app.state.services
    async with services.db.session() as session:
        logged = list(
            await session.scalars(
                select(DocumentUpdate.data).where(DocumentUpdate.document_id == did)
            )
        )
    assert len(logged) == 3
    # Each update is a small diff, not the whole text again.
    assert all(len(u) < 80 for u in logged)
    assert await compact(services, did) == 3
    async with services.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(DocumentUpdate))
    assert count == 0
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == edits[-1]
    # The same content again logs nothing.
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": edits[-1]}, headers=owner.headers
    )
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(DocumentUpdate)) == 0


def test_minimal_diff_keeps_concurrent_edits():
    from mdreader.ytext import apply_text, initial_state

    base = initial_state("alpha beta gamma")
    a, b = make_doc(base), make_doc(base)
    ua = apply_text(a, "alpha BETA gamma")
    ub = apply_text(b, "alpha beta gamma delta")
    a.apply_update(ub)
    b.apply_update(ua)
    assert text_of(a) == text_of(b) == "alpha BETA gamma delta"


async def test_tree_positions_and_moves(client, factory: Factory):
    owner, ws = await _setup(factory)
    a = await factory.document(ws, owner, "A")
    b = await factory.document(ws, owner, "B")
    c = await factory.document(ws, owner, "C")
    child = await factory.document(ws, owner, "A.1", parent_id=a["id"])
    grandchild = await factory.document(ws, owner, "A.1.1", parent_id=child["id"])
    assert (a["position"], b["position"], c["position"]) == (0, 1, 2)
    # C to the front of the root level
    r = await client.patch(f"/api/documents/{c['id']}", json={"position": 0}, headers=owner.headers)
    assert r.status_code == 200
    docs = (await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)).json()
    roots = sorted((d for d in docs if d["parent_id"] is None), key=lambda d: d["position"])
    assert [d["title"] for d in roots] == ["C", "A", "B"]
    # B under A, at index 0
    r = await client.patch(
        f"/api/documents/{b['id']}",
        json={"parent_id": a["id"], "position": 0},
        headers=owner.headers,
    )
    assert r.json()["parent_id"] == a["id"] and r.json()["position"] == 0
    # cycles are refused
    for target in (a["id"], child["id"], grandchild["id"]):
        r = await client.patch(
            f"/api/documents/{a['id']}", json={"parent_id": target}, headers=owner.headers
        )
        assert r.status_code == 409 and r.json()["code"] == "cycle"
    # back to the root
    r = await client.patch(
        f"/api/documents/{b['id']}", json={"parent_id": None}, headers=owner.headers
    )
    assert r.json()["parent_id"] is None
    # a parent in another workspace is not found
    other_owner, other_ws = await _setup(factory)
    foreign = await factory.document(other_ws, other_owner, "Foreign")
    r = await client.patch(
        f"/api/documents/{b['id']}", json={"parent_id": foreign["id"]}, headers=owner.headers
    )
    assert r.status_code == 404


async def test_trash_and_restore_with_descendants(client, factory: Factory):
    owner, ws = await _setup(factory)
    parent = await factory.document(ws, owner, "Parent")
    child = await factory.document(ws, owner, "Child", parent_id=parent["id"])
    assert (
        await client.delete(f"/api/documents/{parent['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/documents/{child['id']}", headers=owner.headers)
    ).status_code == 404
    assert (
        await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    ).json() == []
    trash = (await client.get(f"/api/workspaces/{ws['id']}/trash", headers=owner.headers)).json()
    assert [t["title"] for t in trash] == ["Parent"]
    r = await client.post(f"/api/documents/{parent['id']}/restore", headers=owner.headers)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert (
        await client.get(f"/api/documents/{child['id']}", headers=owner.headers)
    ).status_code == 200
    r = await client.post(f"/api/documents/{parent['id']}/restore", headers=owner.headers)
    assert r.status_code == 409


async def test_restoring_a_child_whose_parent_is_trashed_moves_it_to_the_root(
    client, factory: Factory
):
    owner, ws = await _setup(factory)
    parent = await factory.document(ws, owner, "Parent")
    child = await factory.document(ws, owner, "Child", parent_id=parent["id"])
    await client.delete(f"/api/documents/{child['id']}", headers=owner.headers)
    await client.delete(f"/api/documents/{parent['id']}", headers=owner.headers)
    r = await client.post(f"/api/documents/{child['id']}/restore", headers=owner.headers)
    assert r.status_code == 200 and r.json()["parent_id"] is None


async def test_restore_returns_to_the_old_place_and_admins_delete_for_good(
    client, factory: Factory
):
    owner, ws = await _setup(factory)
    first = await factory.document(ws, owner, "First")
    middle = await factory.document(ws, owner, "Middle")
    await factory.document(ws, owner, "Last")
    child = await factory.document(ws, owner, "Child", "kept text", parent_id=middle["id"])
    await client.delete(f"/api/documents/{middle['id']}", headers=owner.headers)
    r = await client.post(f"/api/documents/{middle['id']}/restore", headers=owner.headers)
    assert r.status_code == 200
    listed = (
        await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    ).json()
    top = sorted((d for d in listed if d["parent_id"] is None), key=lambda d: d["position"])
    assert [d["title"] for d in top] == ["First", "Middle", "Last"]

    # For good: only from the trash, only admins, with what was trashed with it.
    editor = await factory.member(ws, owner, "editor")
    url = f"/api/documents/{middle['id']}/permanent"
    assert (await client.delete(url, headers=owner.headers)).status_code == 409
    await client.delete(f"/api/documents/{middle['id']}", headers=owner.headers)
    assert (await client.delete(url, headers=editor.headers)).status_code == 403
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    trash = (await client.get(f"/api/workspaces/{ws['id']}/trash", headers=owner.headers)).json()
    assert trash == []
    for gone in (middle, child):
        r = await client.post(f"/api/documents/{gone['id']}/restore", headers=owner.headers)
        assert r.status_code == 404
    hits = await client.get(
        f"/api/workspaces/{ws['id']}/search", params={"q": "kept"}, headers=owner.headers
    )
    assert hits.json() == []
    assert (
        await client.get(f"/api/documents/{first['id']}", headers=owner.headers)
    ).status_code == 200


HOSTILE = """# Title

<script>alert('x')</script>
<img src="x.png" onerror="alert(1)">
[click](javascript:alert(1))
<a href="javascript:alert(2)">link</a>
<iframe src="https://evil.example"></iframe>
<div onclick="alert(3)" style="background:url(javascript:alert(4))">div</div>
<svg onload="alert(5)"><circle/></svg>
<object data="x.swf"></object>
"""

GFM = """# Heading One

| a | b |
|---|--:|
| 1 | 2 |

- [x] done
- [ ] todo

~~gone~~ and a note[^n].

[^n]: The note.

```python
print("hi")
```
"""


async def test_html_is_rendered_and_sanitized(client, factory: Factory):
    owner, ws = await _setup(factory)
    doc = await factory.document(ws, owner, "Hostile", HOSTILE + "\n" + GFM)
    r = await client.get(f"/api/documents/{doc['id']}/html", headers=owner.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text.lower()
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "onload",
        'href="javascript',
        "url(javascript",
        "<iframe",
        "<object",
        "<svg",
        'style="background',
    ):
        assert bad not in html, bad
    assert "<table>" in html and '<td style="text-align:right">2</td>' in html
    assert 'type="checkbox"' in html and "checked" in html
    assert "<s>gone</s>" in html
    assert 'class="footnote-ref"' in html
    assert '<code class="language-python">' in html
    assert '<h1 id="heading-one">' in html
    assert '<img src="x.png">' in html


async def test_document_bad_input(client, factory: Factory, app):
    owner, ws = await _setup(factory)
    base = f"/api/workspaces/{ws['id']}/documents"
    assert (await client.post(base, json={"title": ""}, headers=owner.headers)).status_code == 422
    assert (
        await client.post(base, json={"title": "x" * 501}, headers=owner.headers)
    ).status_code == 422
    assert (
        await client.post(base, json={"title": "x", "extra": 1}, headers=owner.headers)
    ).status_code == 422
    r = await client.post(
        base, json={"title": "x", "parent_id": str(uuid.uuid4())}, headers=owner.headers
    )
    assert r.status_code == 404
    assert (await client.get("/api/documents/not-a-uuid", headers=owner.headers)).status_code == 422
    app.state.services.settings.max_document_bytes = 1000
    r = await client.post(base, json={"title": "big", "content": "x" * 1001}, headers=owner.headers)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    doc = await factory.document(ws, owner, "ok", "small")
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "é" * 501}, headers=owner.headers
    )
    assert r.status_code == 413
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "small", "a refused write must leave the stored text alone"
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"position": -1}, headers=owner.headers
    )
    assert r.status_code == 422


def test_concurrent_title_edits_merge_and_the_seed_is_one_insertion():
    from mdreader.ytext import TITLE_NAME, apply_texts, initial_state, seed_update, title_of

    base = initial_state("", "Project Handbook")
    a, b = make_doc(base), make_doc(base)
    ua = apply_texts(a, {TITLE_NAME: "Project Handbook 2025"})
    ub = apply_texts(b, {TITLE_NAME: "The Project Handbook"})
    a.apply_update(ub)
    b.apply_update(ua)
    assert title_of(a) == title_of(b) == "The Project Handbook 2025"
    # Seeding again (another server, a reload) adds nothing, also to an emptied title.
    assert seed_update("Project Handbook") == seed_update("Project Handbook")
    a.apply_update(seed_update("Project Handbook"))
    assert title_of(a) == "The Project Handbook 2025"
    empty = make_doc(initial_state("", ""), title="Ignored: already seeded")
    assert title_of(empty) == ""


async def test_rest_rename_of_a_document_from_before_live_titles(client, factory: Factory, app):
    from pycrdt import Doc, Text
    from sqlalchemy import update

    from mdreader.db.models import Document
    from mdreader.services.documents import pending_updates
    from mdreader.ytext import title_of

    owner, ws = await _setup(factory)
    doc = await factory.document(ws, owner, "Old name", "text")
    legacy = Doc()
    legacy.get("content", type=Text).insert(0, "text")
    services = app.state.services
    async with services.db.session() as session:
        await session.execute(
            update(Document)
            .where(Document.id == uuid.UUID(doc["id"]))
            .values(ystate=legacy.get_update())
        )
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"title": "New name"}, headers=owner.headers
    )
    assert r.json()["title"] == "New name"
    # The logged update carries the seed ("Old name") with the rename, so a server loading
    # the state with the new column cannot seed a second, different title.
    async with services.db.session() as session:
        row = await session.get(Document, uuid.UUID(doc["id"]))
        updates = await pending_updates(session, row.id)
        assert row.title == "New name"
        assert title_of(make_doc(row.ystate, updates, title=row.title)) == "New name"
    await compact(services, uuid.UUID(doc["id"]))
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert (r.json()["title"], r.json()["content"]) == ("New name", "text")


def test_a_document_stored_without_a_state_is_seeded_alike_everywhere():
    """No Yjs state is stored for a new or imported document: every server seeds it from the
    columns with the same bytes, so an edit made on one server's seed applies on another's,
    and on a state rebuilt later from the same columns (compaction)."""
    from mdreader.ytext import TEXT_NAME, apply_texts, seed_update, text_of, title_of

    assert seed_update("Handbook", "stored text") == seed_update("Handbook", "stored text")
    one = make_doc(b"", [], title="Handbook", content="stored text")
    other = make_doc(b"", [], title="Handbook", content="stored text")
    edit = apply_texts(one, {TEXT_NAME: "stored text, edited"})
    assert edit is not None and len(edit) < 40  # the edit alone, not the text again
    other.apply_update(edit)
    rebuilt = make_doc(b"", [edit], title="Handbook", content="stored text")
    assert text_of(other) == text_of(rebuilt) == "stored text, edited"
    assert title_of(rebuilt) == "Handbook"
    # A stored state already holds its text: the content column is not seeded again.
    assert text_of(make_doc(rebuilt.get_update(), [], title="Handbook", content="x")) == (
        "stored text, edited"
    )
