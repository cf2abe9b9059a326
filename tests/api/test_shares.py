"""Share links: a public, sanitized, read-only page at /s/{token}; listed, revocable, may
expire; dead (404) once revoked, expired, or the document is in the trash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from mdreader.db.models import Share


async def _share(client, doc, user, **body):
    r = await client.post(f"/api/documents/{doc['id']}/shares", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_public_page_is_rendered_and_sanitized(client, factory, settings):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(
        ws, owner, "Plan <b>x</b>", "# Hello\n\n*world* <script>alert(1)</script>"
    )
    share = await _share(client, doc, owner)
    assert set(share) >= {"token", "url"}
    assert share["url"] == f"{settings.public_url.rstrip('/')}/s/{share['token']}"
    r = await client.get(f"/s/{share['token']}")  # no login
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<em>world</em>" in r.text and "Hello" in r.text
    assert "<script" not in r.text and "<b>x</b>" not in r.text
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"]
    assert r.headers["cache-control"] == "private, no-store"
    assert "noindex" in r.headers["x-robots-tag"]
    # The page shows the live text.
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "changed"}, headers=owner.headers
    )
    assert "changed" in (await client.get(f"/s/{share['token']}")).text
    assert (await client.get("/s/not-a-token")).status_code == 404
    assert (await client.get("/s/" + "x" * 300)).status_code == 404


async def test_list_and_revoke(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "text")
    first = await _share(client, doc, owner)
    second = await _share(client, doc, owner)
    r = await client.get(f"/api/documents/{doc['id']}/shares", headers=owner.headers)
    assert [s["token"] for s in r.json()] == [second["token"], first["token"]]
    r = await client.delete(
        f"/api/documents/{doc['id']}/shares/{first['token']}", headers=owner.headers
    )
    assert r.status_code == 204
    assert (await client.get(f"/s/{first['token']}")).status_code == 404
    assert (await client.get(f"/s/{second['token']}")).status_code == 200
    r = await client.get(f"/api/documents/{doc['id']}/shares", headers=owner.headers)
    assert [s["token"] for s in r.json()] == [second["token"]]
    r = await client.delete(
        f"/api/documents/{doc['id']}/shares/{first['token']}", headers=owner.headers
    )
    assert r.status_code == 404
    # A token is only found through its own document.
    other = await factory.document(ws, owner, "Other", "")
    r = await client.delete(
        f"/api/documents/{other['id']}/shares/{second['token']}", headers=owner.headers
    )
    assert r.status_code == 404


async def test_expiry(app, client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "text")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await client.post(
        f"/api/documents/{doc['id']}/shares", json={"expires_at": past}, headers=owner.headers
    )
    assert r.status_code == 422
    r = await client.post(
        f"/api/documents/{doc['id']}/shares", json={"expires_at": "soon"}, headers=owner.headers
    )
    assert r.status_code == 422
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    share = await _share(client, doc, owner, expires_at=future)
    assert share["expires_at"] is not None
    assert (await client.get(f"/s/{share['token']}")).status_code == 200
    async with app.state.services.db.session() as session:
        await session.execute(
            update(Share)
            .where(Share.token == share["token"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(f"/s/{share['token']}")).status_code == 404
    r = await client.get(f"/api/documents/{doc['id']}/shares", headers=owner.headers)
    assert r.json() == []


async def test_trashed_document_is_not_shown(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    parent = await factory.document(ws, owner, "Parent", "")
    child = await factory.document(ws, owner, "Child", "text", parent_id=parent["id"])
    share = await _share(client, child, owner)
    await client.delete(f"/api/documents/{parent['id']}", headers=owner.headers)
    assert (await client.get(f"/s/{share['token']}")).status_code == 404
    await client.post(f"/api/documents/{parent['id']}/restore", headers=owner.headers)
    assert (await client.get(f"/s/{share['token']}")).status_code == 200


async def test_who_may_do_what(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    admin = await factory.member(ws, owner, "admin")
    editor = await factory.member(ws, owner, "editor")
    viewer = await factory.member(ws, owner, "viewer")
    doc = await factory.document(ws, owner, "Doc", "text")
    r = await client.post(f"/api/documents/{doc['id']}/shares", json={}, headers=viewer.headers)
    assert r.status_code == 403
    r = await client.get(f"/api/documents/{doc['id']}/shares", headers=viewer.headers)
    assert r.status_code == 200
    mine = await _share(client, doc, editor)
    theirs = await _share(client, doc, owner)
    base = f"/api/documents/{doc['id']}/shares"
    # An editor revokes their own link, not somebody else's; an admin revokes any.
    assert (
        await client.delete(f"{base}/{theirs['token']}", headers=editor.headers)
    ).status_code == 403
    assert (
        await client.delete(f"{base}/{mine['token']}", headers=editor.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{base}/{theirs['token']}", headers=admin.headers)
    ).status_code == 204
    outsider = await factory.user("outsider")
    r = await client.get(base, headers=outsider.headers)
    assert r.status_code == 404


async def test_page_reads_like_the_reader_with_open_graph_and_head(client, factory, settings):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(
        ws,
        owner,
        "Field guide",
        "# Field guide\n\nBirds of the *coast* & more. Euler: $e^{i\\pi}+1=0$\n\n"
        "```python\nprint('hi')\n```\n\n```mermaid\ngraph TD; A-->B\n```\n",
    )
    share = await _share(client, doc, owner)
    r = await client.get(f"/s/{share['token']}")
    body = r.text
    # The title once: the text's own first heading repeating it is left to the page's.
    assert body.count(">Field guide</h1>") == 1
    assert '<meta property="og:title" content="Field guide">' in body
    assert '<meta property="og:description" content="Birds of the coast &amp; more.' in body
    assert f'<meta property="og:url" content="{share["url"]}">' in body
    # Math and code arrive marked up for the page's script (KaTeX, highlight.js, mermaid).
    assert '<span class="math inline">e^{i\\pi}+1=0</span>' in body
    assert '<code class="language-python">' in body and '<code class="language-mermaid">' in body
    head = await client.head(f"/s/{share['token']}")
    assert head.status_code == 200 and head.headers["content-type"] == r.headers["content-type"]
    assert head.headers["content-security-policy"] == r.headers["content-security-policy"]
    assert (await client.head("/s/not-a-token")).status_code == 404


async def test_page_uses_the_web_builds_stylesheet_and_script(settings, outbox, tmp_path):
    import json

    from tests.conftest import serving

    dist = tmp_path / "dist"
    (dist / ".vite").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>app</title>")
    (dist / ".vite" / "manifest.json").write_text(
        json.dumps(
            {
                "src/share.ts": {
                    "file": "assets/share-1.js",
                    "isEntry": True,
                    "imports": ["_styles-1.js"],
                    "css": ["assets/katex-1.css"],
                },
                "_styles-1.js": {"file": "assets/styles-1.js", "css": ["assets/styles-1.css"]},
            }
        )
    )
    async with serving(settings.model_copy(update={"web_dist": dist}), outbox) as (_, factory):
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Styled", "text")
        share = await _share(factory.client, doc, owner)
        body = (await factory.client.get(f"/s/{share['token']}")).text
    assert '<link rel="stylesheet" href="/assets/katex-1.css">' in body
    assert '<link rel="stylesheet" href="/assets/styles-1.css">' in body
    assert '<script type="module" src="/assets/share-1.js"></script>' in body


async def _upload(client, ws, user, name="a.png"):
    r = await client.post(
        f"/api/workspaces/{ws['id']}/files",
        files={"file": (name, b"\x89PNG\r\n\x1a\n" + name.encode(), "image/png")},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_images_of_the_shared_document_load_for_anonymous_readers(
    client, factory, settings, app
):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    other_ws = await factory.workspace(owner, "Other")
    shown = await _upload(client, ws, owner, "shown.png")
    unlinked = await _upload(client, ws, owner, "unlinked.png")
    foreign = await _upload(client, other_ws, owner, "foreign.png")
    public = settings.public_url.rstrip("/")
    doc = await factory.document(
        ws,
        owner,
        "Photos",
        f"![a]({shown['url']})\n\n[file]({public}{shown['url']})\n\n![b]({foreign['url']})\n",
    )
    share = await _share(client, doc, owner)
    token = share["token"]
    page = (await client.get(f"/s/{token}")).text
    assert f'src="/s/{token}/files/{shown["id"]}"' in page
    assert f'href="/s/{token}/files/{shown["id"]}"' in page
    r = await client.get(f"/s/{token}/files/{shown['id']}")  # no login
    assert r.status_code == 200 and r.content.endswith(b"shown.png")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert (await client.head(f"/s/{token}/files/{shown['id']}")).status_code == 200
    # Only the files this document links to, in its own workspace.
    assert (await client.get(f"/s/{token}/files/{unlinked['id']}")).status_code == 404
    assert (await client.get(f"/s/{token}/files/{foreign['id']}")).status_code == 404
    assert (await client.get(f"/s/wrong-token/files/{shown['id']}")).status_code == 404
    # The grant ends with the link: revoked, expired, or the document in the trash.
    second = await _share(client, doc, owner)
    path = f"/s/{second['token']}/files/{shown['id']}"
    await client.delete(f"/api/documents/{doc['id']}/shares/{token}", headers=owner.headers)
    assert (await client.get(f"/s/{token}/files/{shown['id']}")).status_code == 404
    assert (await client.get(path)).status_code == 200
    async with app.state.services.db.session() as session:
        await session.execute(
            update(Share)
            .where(Share.token == second["token"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(path)).status_code == 404
    third = await _share(client, doc, owner)
    await client.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert (await client.get(f"/s/{third['token']}/files/{shown['id']}")).status_code == 404
    # Unlinking the image from the text ends its grant too.
    await client.post(f"/api/documents/{doc['id']}/restore", headers=owner.headers)
    await client.patch(
        f"/api/documents/{doc['id']}", json={"content": "no images"}, headers=owner.headers
    )
    assert (await client.get(f"/s/{third['token']}/files/{shown['id']}")).status_code == 404
