"""Links between documents: links by id survive renames; ``[[Title]]`` resolves by title;
"Linked from" (backlinks) follows the stored texts; export writes relative links and import
restores them, turning imported ``[[Title]]`` into links by id."""

from __future__ import annotations

import io
import uuid
import zipfile

from mdreader.services.compaction import compact


async def _backlinks(client, doc, user) -> list[str]:
    r = await client.get(f"/api/documents/{doc['id']}/backlinks", headers=user.headers)
    assert r.status_code == 200, r.text
    return [b["title"] for b in r.json()]


async def test_backlinks_by_id_and_by_title_follow_changes_and_renames(app, client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    target = await factory.document(ws, owner, "Roadmap", "the plan")
    by_id = await factory.document(ws, owner, "Notes", f"See [the roadmap](/d/{target['id']}).")
    by_title = await factory.document(ws, owner, "Ideas", "Also [[roadmap]] and [[Nothing]].")
    await factory.document(ws, owner, "Other", "no links")
    assert await _backlinks(client, target, viewer) == ["Ideas", "Notes"]
    (first,) = [
        b
        for b in (
            await client.get(f"/api/documents/{target['id']}/backlinks", headers=owner.headers)
        ).json()
        if b["title"] == "Notes"
    ]
    assert "See [the roadmap]" in first["snippet"]

    # Renaming: the link by id keeps pointing here; [[Roadmap]] now names no document.
    r = await client.patch(
        f"/api/documents/{target['id']}", json={"title": "Plan 2027"}, headers=owner.headers
    )
    assert r.status_code == 200
    assert await _backlinks(client, target, owner) == ["Notes"]

    # A link removed is no longer a backlink once stored; a trashed linker neither.
    await client.patch(
        f"/api/documents/{by_id['id']}", json={"content": "nothing now"}, headers=owner.headers
    )
    await compact(app.state.services, uuid.UUID(by_id["id"]))
    await client.patch(
        f"/api/documents/{by_title['id']}",
        json={"content": "[[Plan 2027]] is the name now"},
        headers=owner.headers,
    )
    await compact(app.state.services, uuid.UUID(by_title["id"]))
    assert await _backlinks(client, target, owner) == ["Ideas"]
    await client.delete(f"/api/documents/{by_title['id']}", headers=owner.headers)
    assert await _backlinks(client, target, owner) == []

    stranger = await factory.user("stranger")
    r = await client.get(f"/api/documents/{target['id']}/backlinks", headers=stranger.headers)
    assert r.status_code == 404


async def test_export_writes_relative_links_and_import_restores_them(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    target = await factory.document(ws, owner, "Target", "here")
    await factory.document(ws, owner, "Source", f"go to [Target](/d/{target['id']})")
    r = await client.get(f"/api/workspaces/{ws['id']}/export", headers=owner.headers)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.read("Source.md").decode() == "go to [Target](Target.md)"
        exported = {n: zf.read(n) for n in zf.namelist()}

    # Into another workspace, with a hand-written [[Title]] as well.
    other = await factory.workspace(owner, "Copy")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in exported.items():
            zf.writestr(name, data)
        zf.writestr("Wiki.md", "Read [[target]] first, then [[Missing page]].")
    r = await client.post(
        f"/api/workspaces/{other['id']}/import",
        files={"files": ("copy.zip", buf.getvalue(), "application/zip")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    listed = (
        await client.get(f"/api/workspaces/{other['id']}/documents", headers=owner.headers)
    ).json()
    ids = {d["title"]: d["id"] for d in listed}
    source = (await client.get(f"/api/documents/{ids['Source']}", headers=owner.headers)).json()
    assert source["content"] == f"go to [Target](/d/{ids['Target']})"
    wiki = (await client.get(f"/api/documents/{ids['Wiki']}", headers=owner.headers)).json()
    assert wiki["content"] == f"Read [target](/d/{ids['Target']}) first, then [[Missing page]]."
    copied = {"id": ids["Target"]}
    assert await _backlinks(client, copied, owner) == ["Source", "Wiki"]
