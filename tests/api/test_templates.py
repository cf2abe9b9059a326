"""Templates: any document can be made one (editors), listed for the workspace in one place,
copied by "New from template" with {{date}} and {{author}} filled in; not offered from the
trash or to other workspaces."""

from __future__ import annotations

from datetime import UTC, datetime


async def test_make_list_and_use_a_template(client, factory):
    owner = await factory.user("olga")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor", "eddie")
    viewer = await factory.member(ws, owner, "viewer", "vera")
    tpl = await factory.document(
        ws, owner, "Meeting {{date}}", "# Meeting on {{date}}\n\nNotes by {{author}}.\n"
    )
    base = f"/api/workspaces/{ws['id']}"
    assert (await client.get(f"{base}/templates", headers=viewer.headers)).json() == []
    r = await client.put(f"/api/documents/{tpl['id']}/template", headers=viewer.headers)
    assert r.status_code == 403
    r = await client.put(f"/api/documents/{tpl['id']}/template", headers=editor.headers)
    assert r.status_code == 200 and r.json() == {"template": True}
    listed = (await client.get(f"{base}/templates", headers=viewer.headers)).json()
    assert listed == [{"id": tpl["id"], "title": "Meeting {{date}}"}]
    flag = await client.get(f"/api/documents/{tpl['id']}/template", headers=viewer.headers)
    assert flag.json() == {"template": True}

    r = await client.post(
        f"{base}/documents/from-template", json={"template_id": tpl["id"]}, headers=editor.headers
    )
    assert r.status_code == 201, r.text
    made = r.json()
    today = datetime.now(UTC).date().isoformat()
    assert made["title"] == f"Meeting {today}"
    assert made["content"] == f"# Meeting on {today}\n\nNotes by eddie.\n"
    assert made["id"] != tpl["id"] and made["created_by"] == editor.id
    # The template itself is unchanged; a copy under a parent, with a title of its own.
    again = await client.post(
        f"{base}/documents/from-template",
        json={"template_id": tpl["id"], "parent_id": made["id"], "title": "Kickoff"},
        headers=owner.headers,
    )
    assert again.status_code == 201 and again.json()["parent_id"] == made["id"]
    assert again.json()["title"] == "Kickoff"
    body = (await client.get(f"/api/documents/{tpl['id']}", headers=owner.headers)).json()
    assert body["content"] == "# Meeting on {{date}}\n\nNotes by {{author}}.\n"
    # Viewers read templates but make nothing from them.
    r = await client.post(
        f"{base}/documents/from-template", json={"template_id": tpl["id"]}, headers=viewer.headers
    )
    assert r.status_code == 403

    # Not a template any more, in the trash, or another workspace's: not found.
    other = await factory.document(ws, owner, "Plain", "x")
    r = await client.post(
        f"{base}/documents/from-template", json={"template_id": other["id"]}, headers=owner.headers
    )
    assert r.status_code == 404
    theirs_ws = await factory.workspace(owner, "Other")
    r = await client.post(
        f"/api/workspaces/{theirs_ws['id']}/documents/from-template",
        json={"template_id": tpl["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 404
    await client.delete(f"/api/documents/{tpl['id']}", headers=owner.headers)
    assert (await client.get(f"{base}/templates", headers=owner.headers)).json() == []
    await client.post(f"/api/documents/{tpl['id']}/restore", headers=owner.headers)
    assert len((await client.get(f"{base}/templates", headers=owner.headers)).json()) == 1
    r = await client.delete(f"/api/documents/{tpl['id']}/template", headers=editor.headers)
    assert r.json() == {"template": False}
    assert (await client.get(f"{base}/templates", headers=owner.headers)).json() == []
