"""Comments: threads anchored to a range (Yjs relative positions that follow edits, kept and
marked orphaned when their text is deleted), document-level threads, replies, editing and
deleting one's own, admins moderating, resolve and reopen, Markdown through the sanitizer,
and who may comment (``commenter`` for viewers, per workspace)."""

from __future__ import annotations

import base64
import uuid

from pycrdt import Assoc, StickyIndex, Text

from mdreader.services import comments as svc
from mdreader.ytext import TEXT_NAME


async def _anchor(app, doc_id: str, start: int, end: int) -> dict[str, str]:
    """Relative positions around [start, end) of the stored text, as a client makes them."""
    services = app.state.services
    async with services.db.read_session() as session:
        ydoc = await svc.live_doc(session, uuid.UUID(doc_id))
    text = ydoc.get(TEXT_NAME, type=Text)
    plain = str(text)
    b = lambda i: len(plain[:i].encode())  # noqa: E731 - pycrdt counts UTF-8 bytes
    s = StickyIndex.new(text, b(start), Assoc.AFTER).encode()
    e = StickyIndex.new(text, b(end), Assoc.BEFORE).encode()
    return {
        "start": base64.b64encode(s).decode(),
        "end": base64.b64encode(e).decode(),
        "quote": plain[start:end],
    }


async def _team(factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer", "viewer")
    editor = await factory.member(ws, owner, "editor", "editor")
    admin = await factory.member(ws, owner, "admin", "admin")
    doc = await factory.document(ws, owner, "Plan", "Intro line.\n\nThe budget is tight.\n")
    return owner, ws, viewer, editor, admin, doc


async def test_anchored_thread_follows_edits_and_is_kept_when_its_text_goes(app, client, factory):
    owner, _ws, viewer, editor, _admin, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    text = "Intro line.\n\nThe budget is tight.\n"
    at = text.index("budget")
    anchor = await _anchor(app, doc["id"], at, at + len("budget"))
    r = await client.post(
        url, json={"body": "Which **budget**?", "anchor": anchor}, headers=editor.headers
    )
    assert r.status_code == 201, r.text
    thread = r.json()
    assert thread["anchor"]["quote"] == "budget" and thread["orphaned"] is False
    assert (thread["anchor"]["offset"], thread["anchor"]["length"]) == (at, 6)
    assert thread["body_html"] == "<p>Which <strong>budget</strong>?</p>\n"
    assert thread["author"]["name"] == "editor"

    # Text typed before the range moves it; the anchor follows.
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": "Ünïcode 😀 first. " + text},
        headers=owner.headers,
    )
    assert r.status_code == 200
    (listed,) = (await client.get(url, headers=viewer.headers)).json()
    prefix = "Ünïcode 😀 first. "
    shift = len(prefix.encode("utf-16-le")) // 2  # clients count UTF-16 units
    assert (listed["anchor"]["offset"], listed["anchor"]["length"]) == (at + shift, 6)
    assert listed["orphaned"] is False

    # The range's text is deleted: the thread stays, marked orphaned.
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        json={"content": prefix + "Intro line.\n\nThe is tight.\n"},
        headers=owner.headers,
    )
    (listed,) = (await client.get(url, headers=viewer.headers)).json()
    assert listed["orphaned"] is True and listed["anchor"]["offset"] is None
    assert listed["anchor"]["quote"] == "budget" and listed["body"] == "Which **budget**?"


async def test_document_threads_replies_edit_delete_and_resolve(client, factory):
    owner, _ws, viewer, editor, admin, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    r = await client.post(url, json={"body": "Overall: good."}, headers=editor.headers)
    assert r.status_code == 201
    thread = r.json()
    assert thread["anchor"] is None and thread["orphaned"] is False
    tid = thread["id"]

    r = await client.post(f"{url}/{tid}/replies", json={"body": "Agreed"}, headers=owner.headers)
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["thread_id"] == tid
    # A reply to a reply joins the same thread.
    r = await client.post(
        f"{url}/{reply['id']}/replies", json={"body": "+1"}, headers=admin.headers
    )
    assert r.json()["thread_id"] == tid
    got = (await client.get(f"{url}/{reply['id']}", headers=viewer.headers)).json()
    assert got["id"] == tid and [c["body"] for c in got["replies"]] == ["Agreed", "+1"]

    # Only its author edits a comment, not even the owner of the workspace.
    r = await client.patch(f"{url}/{tid}", json={"body": "Nope"}, headers=owner.headers)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await client.patch(
        f"{url}/{tid}", json={"body": "Overall: *great*."}, headers=editor.headers
    )
    assert r.status_code == 200
    assert r.json()["edited_at"] is not None and "<em>great</em>" in r.json()["body_html"]

    # Resolve and reopen; a reply cannot be resolved on its own.
    r = await client.post(f"{url}/{tid}/resolve", headers=editor.headers)
    assert r.status_code == 200 and r.json()["resolved_by"]["name"] == "editor"
    assert (await client.get(url, params={"status": "open"}, headers=owner.headers)).json() == []
    resolved = (await client.get(url, params={"status": "resolved"}, headers=owner.headers)).json()
    assert [t["id"] for t in resolved] == [tid]
    r = await client.post(f"{url}/{reply['id']}/resolve", headers=editor.headers)
    assert r.status_code == 422 and r.json()["code"] == "not_a_thread"
    r = await client.post(f"{url}/{tid}/reopen", headers=owner.headers)
    assert r.status_code == 200 and r.json()["resolved_at"] is None

    # An editor deletes only their own; an admin moderates anyone's.
    r = await client.delete(f"{url}/{reply['id']}", headers=editor.headers)
    assert r.status_code == 403
    r = await client.delete(f"{url}/{reply['id']}", headers=admin.headers)
    assert r.status_code == 204
    assert [
        c["body"]
        for c in (await client.get(f"{url}/{tid}", headers=owner.headers)).json()["replies"]
    ] == ["+1"]
    # Deleting the thread deletes its replies.
    r = await client.delete(f"{url}/{tid}", headers=editor.headers)
    assert r.status_code == 204
    assert (await client.get(url, headers=owner.headers)).json() == []
    assert (await client.get(f"{url}/{tid}", headers=owner.headers)).status_code == 404


async def test_viewers_comment_only_where_the_workspace_lets_them(client, factory):
    owner, ws, viewer, editor, admin, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    r = await client.post(url, json={"body": "May I?"}, headers=viewer.headers)
    assert r.status_code == 403 and "commenter" in r.json()["detail"]
    assert (await client.get(url, headers=viewer.headers)).status_code == 200  # reading is fine
    me = [w for w in (await client.get("/api/workspaces", headers=viewer.headers)).json()]
    assert "create" not in me[0]["abilities"].get("comment", [])

    setting = f"/api/workspaces/{ws['id']}/commenting"
    r = await client.put(setting, json={"viewers_comment": True}, headers=editor.headers)
    assert r.status_code == 403
    r = await client.put(setting, json={"viewers_comment": True}, headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"viewers_comment": True}
    assert (await client.get(setting, headers=viewer.headers)).json() == {"viewers_comment": True}
    me = (await client.get("/api/workspaces", headers=viewer.headers)).json()
    assert me[0]["abilities"]["comment"] == ["create", "read", "resolve"]

    r = await client.post(url, json={"body": "Now I may."}, headers=viewer.headers)
    assert r.status_code == 201
    tid = r.json()["id"]
    r = await client.post(f"{url}/{tid}/replies", json={"body": "ok"}, headers=viewer.headers)
    assert r.status_code == 201
    # Still not a moderator: another's comment stays out of reach.
    other = (await client.post(url, json={"body": "mine"}, headers=editor.headers)).json()
    assert (await client.delete(f"{url}/{other['id']}", headers=viewer.headers)).status_code == 403

    await client.put(setting, json={"viewers_comment": False}, headers=owner.headers)
    r = await client.post(url, json={"body": "again?"}, headers=viewer.headers)
    assert r.status_code == 403
    # What they wrote stays theirs to edit or delete.
    r = await client.patch(f"{url}/{tid}", json={"body": "edited"}, headers=viewer.headers)
    assert r.status_code == 200


async def test_markdown_goes_through_the_sanitizer(client, factory):
    _owner, _ws, _viewer, editor, _admin, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    body = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) `ok`"
    )
    r = await client.post(url, json={"body": body}, headers=editor.headers)
    html = r.json()["body_html"]
    assert "<script" not in html and "onerror" not in html and 'href="javascript' not in html
    assert "<code>ok</code>" in html
    assert r.json()["body"] == body  # the Markdown is kept as written


async def test_bad_input_is_a_clear_4xx(client, factory):
    _owner, _ws, _viewer, editor, _admin, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    for body, code in [
        ({"body": "   "}, "empty_comment"),
        ({"body": "x", "anchor": {"start": "!!", "end": "AA=="}}, "bad_anchor"),
        ({"body": "x", "anchor": {"start": "AAAA", "end": "//8="}}, "bad_anchor"),
        (
            {"body": "x", "anchor": {"start": base64.b64encode(b"\x07").decode(), "end": "AA=="}},
            "bad_anchor",
        ),
    ]:
        r = await client.post(url, json=body, headers=editor.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == code, r.text
    r = await client.post(url, json={"body": "x" * 10_001}, headers=editor.headers)
    assert r.status_code == 422
    # Positions that name text the document never held: kept, shown as orphaned.
    unknown = base64.b64encode(bytes([0, 0x7F, 5, 0])).decode()
    r = await client.post(
        url,
        json={"body": "x", "anchor": {"start": unknown, "end": unknown}},
        headers=editor.headers,
    )
    assert r.status_code == 201 and r.json()["orphaned"] is True
    assert (await client.get(f"{url}/not-a-uuid", headers=editor.headers)).status_code == 422
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"{url}/{missing}", headers=editor.headers)).status_code == 404


async def test_comments_are_the_documents_own(client, factory):
    """A comment is reached only through its own document; others see 404."""
    owner, ws, _viewer, editor, _admin, doc = await _team(factory)
    other_doc = await factory.document(ws, owner, "Other", "x")
    url = f"/api/documents/{doc['id']}/comments"
    tid = (await client.post(url, json={"body": "here"}, headers=editor.headers)).json()["id"]
    r = await client.get(f"/api/documents/{other_doc['id']}/comments/{tid}", headers=owner.headers)
    assert r.status_code == 404
    stranger = await factory.user("stranger")
    await factory.workspace(stranger, "Theirs")
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{url}/{tid}", headers=stranger.headers)).status_code == 404
    # A trashed document's comments are out of reach, and back with it.
    assert (
        await client.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    ).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    await client.post(f"/api/documents/{doc['id']}/restore", headers=owner.headers)
    assert len((await client.get(url, headers=owner.headers)).json()) == 1
