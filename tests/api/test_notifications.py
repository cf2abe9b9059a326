"""Mentions and notifications: the inbox (unread count, live by long polling, read / all
read), who follows a document, e-mail through a real SMTP server (mentions at once, the rest
in a digest) with per-user preferences and an unsubscribe link that works signed out, and a
removed member whose mentions stop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mdreader.app import create_app
from mdreader.services import notifications as svc
from mdreader.services.compaction import compact
from tests.collab.harness import eventually
from tests.conftest import Factory, Outbox, make_settings


@pytest.fixture
async def mailed(
    smtp_server, tmp_path, database_url, settings
) -> AsyncIterator[tuple[Any, Factory, Any]]:
    """An app e-mailing through the SMTP test server: (app, factory, inbox)."""
    inbox, port = smtp_server
    s = make_settings(
        tmp_path,
        database_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        public_url="http://mdreader.test",
        notification_digest_interval=0,  # the test sends digests itself
    )
    app = create_app(s)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield app, Factory(c, Outbox()), inbox


def mention(user) -> str:
    return f"@[{user.email.split('-')[0].title()}](user:{user.id})"


def mails(inbox, to: str, subject_has: str = "") -> list[Any]:
    return [m for m in inbox.messages if m["To"] == to and subject_has in m["Subject"]]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


async def _team(factory: Factory):
    owner = await factory.user("olga")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor", "eddie")
    viewer = await factory.member(ws, owner, "viewer", "vera")
    doc = await factory.document(ws, owner, "Plan", "The plan.\n")
    return owner, ws, editor, viewer, doc


async def test_a_mention_in_a_comment_reaches_inbox_and_mailbox_and_unsubscribes_signed_out(mailed):
    _app, factory, inbox = mailed
    c = factory.client
    owner, _ws, editor, viewer, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    r = await c.post(
        url, json={"body": f"{mention(viewer)} can you check?"}, headers=editor.headers
    )
    assert r.status_code == 201

    assert (await c.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 1
    }
    (note,) = (await c.get("/api/notifications", headers=viewer.headers)).json()
    assert note["kind"] == "mention" and note["document_title"] == "Plan"
    assert note["actor"]["name"] == "eddie" and note["excerpt"] == "@Vera can you check?"

    async def mailed_once() -> None:
        assert len(mails(inbox, viewer.email, "mentioned you")) == 1

    await eventually(mailed_once)
    (message,) = mails(inbox, viewer.email, "mentioned you")
    body = text_of(message)
    assert f"http://mdreader.test/w/{doc['workspace_id']}/d/{doc['id']}" in body
    link = body.split("http://mdreader.test/api/notifications/unsubscribe?token=")[1].split()[0]

    # The owner, who follows the document (created it), gets a comment notification but no
    # e-mail yet: that waits for the digest.
    (owner_note,) = (await c.get("/api/notifications", headers=owner.headers)).json()
    assert owner_note["kind"] == "comment"
    assert mails(inbox, owner.email, "new on MDReader") == []

    # Unsubscribing works signed out, in one click.
    r = await c.get("/api/notifications/unsubscribe", params={"token": link})
    assert r.status_code == 200 and "no longer get e-mails about mentions" in r.text
    settings = (await c.get("/api/notifications/settings", headers=viewer.headers)).json()
    assert settings == {"email_mentions": False, "email_replies": True, "email_comments": True}
    r = await c.post(url, json={"body": f"{mention(viewer)} again"}, headers=editor.headers)
    assert (await c.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 2
    }
    # E-mail leaves before the answer does (after commit): nothing more has been sent.
    assert len(mails(inbox, viewer.email, "mentioned you")) == 1
    # A forged or mangled link is refused.
    assert (
        await c.get("/api/notifications/unsubscribe", params={"token": link[:-2]})
    ).status_code == 404
    assert (
        await c.post("/api/notifications/unsubscribe", params={"token": "x"})
    ).status_code == 404


async def test_replies_and_followed_comments_are_batched_in_a_digest(mailed):
    app, factory, inbox = mailed
    c = factory.client
    owner, _ws, editor, viewer, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    thread = (await c.post(url, json={"body": "First"}, headers=owner.headers)).json()
    await c.post(f"{url}/{thread['id']}/replies", json={"body": "A reply"}, headers=editor.headers)
    await c.post(url, json={"body": "Second thread"}, headers=editor.headers)
    notes = (await c.get("/api/notifications", headers=owner.headers)).json()
    assert [n["kind"] for n in notes] == ["comment", "reply"]  # newest first
    assert (
        await c.get("/api/notifications", headers=viewer.headers)
    ).json() == []  # follows nothing

    services = app.state.services
    assert await svc.send_digests(services) == 2
    assert await svc.send_digests(services) == 0  # each goes once

    async def digest() -> None:
        assert len(mails(inbox, owner.email, "new on MDReader")) == 1

    await eventually(digest)
    body = text_of(mails(inbox, owner.email, "new on MDReader")[0])
    assert 'eddie replied in your thread on "Plan": A reply' in body
    assert 'eddie commented on "Plan": Second thread' in body
    assert "/api/notifications/unsubscribe?token=" in body
    # The editor commented, so follows the document: the owner's next comment reaches them.
    await c.post(url, json={"body": "Third"}, headers=owner.headers)
    assert [
        n["kind"] for n in (await c.get("/api/notifications", headers=editor.headers)).json()
    ] == ["comment"]
    # Preferences: no digest for someone who turned both off.
    r = await c.put(
        "/api/notifications/settings",
        json={"email_replies": False, "email_comments": False},
        headers=editor.headers,
    )
    assert r.json() == {"email_mentions": True, "email_replies": False, "email_comments": False}
    assert await svc.send_digests(services) == 0


async def test_creating_editing_and_being_mentioned_in_a_document_follows_it(mailed):
    app, factory, inbox = mailed
    c = factory.client
    owner, _ws, editor, viewer, doc = await _team(factory)
    did = doc["id"]
    for user, following in ((owner, True), (editor, False), (viewer, False)):
        r = await c.get(f"/api/documents/{did}/follow", headers=user.headers)
        assert r.json() == {"following": following}
    r = await c.patch(
        f"/api/documents/{did}",
        json={"content": f"The plan.\n\nAsk {mention(viewer)} about it.\n"},
        headers=editor.headers,
    )
    assert r.status_code == 200
    await compact(app.state.services, uuid.UUID(did))
    for user in (owner, editor, viewer):
        assert (await c.get(f"/api/documents/{did}/follow", headers=user.headers)).json() == {
            "following": True
        }
    (note,) = (await c.get("/api/notifications", headers=viewer.headers)).json()
    assert note["kind"] == "mention" and note["comment_id"] is None
    assert note["excerpt"] == "Ask @Vera about it."

    async def mailed_once() -> None:
        assert len(mails(inbox, viewer.email, "mentioned you")) == 1

    await eventually(mailed_once)
    # The same mention compacted again is not news.
    await c.patch(f"/api/documents/{did}", json={"title": "Plan B"}, headers=editor.headers)
    await compact(app.state.services, uuid.UUID(did))
    assert len((await c.get("/api/notifications", headers=viewer.headers)).json()) == 1
    # Unfollowing stops comment notifications.
    assert (await c.delete(f"/api/documents/{did}/follow", headers=viewer.headers)).json() == {
        "following": False
    }
    await c.post(f"/api/documents/{did}/comments", json={"body": "hm"}, headers=owner.headers)
    assert len((await c.get("/api/notifications", headers=viewer.headers)).json()) == 1
    assert (await c.put(f"/api/documents/{did}/follow", headers=viewer.headers)).json() == {
        "following": True
    }


async def test_a_removed_member_is_no_longer_mentioned_and_loses_the_workspace_inbox(
    client, factory
):
    owner, ws, editor, viewer, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    await client.post(url, json={"body": f"hi {mention(viewer)}"}, headers=editor.headers)
    assert (await client.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 1
    }
    r = await client.delete(
        f"/api/workspaces/{ws['id']}/members/{viewer.id}", headers=owner.headers
    )
    assert r.status_code == 204
    # What the workspace told them is gone with the membership, and new mentions stop.
    assert (await client.get("/api/notifications", headers=viewer.headers)).json() == []
    assert (await client.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 0
    }
    await client.post(url, json={"body": f"still there {mention(viewer)}?"}, headers=editor.headers)
    assert (await client.get("/api/notifications", headers=viewer.headers)).json() == []
    # Mentioning someone who never was a member notifies nobody.
    stranger = await factory.user("stranger")
    await client.post(url, json={"body": f"{mention(stranger)} look"}, headers=editor.headers)
    assert (await client.get("/api/notifications", headers=stranger.headers)).json() == []


async def test_read_and_read_all_and_live_count(client, factory):
    owner, _ws, editor, viewer, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    for i in range(3):
        await client.post(url, json={"body": f"{mention(viewer)} {i}"}, headers=editor.headers)
    notes = (await client.get("/api/notifications", headers=viewer.headers)).json()
    assert len(notes) == 3
    r = await client.post(f"/api/notifications/{notes[0]['id']}/read", headers=viewer.headers)
    assert r.status_code == 204
    assert (await client.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 2
    }
    unread = (
        await client.get("/api/notifications", params={"unread": True}, headers=viewer.headers)
    ).json()
    assert [n["id"] for n in unread] == [n["id"] for n in notes[1:]]
    # Someone else's notification is not found.
    r = await client.post(f"/api/notifications/{notes[1]['id']}/read", headers=owner.headers)
    assert r.status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert (
        await client.post(f"/api/notifications/{missing}/read", headers=viewer.headers)
    ).status_code == 404
    # Reading one already read is fine.
    assert (
        await client.post(f"/api/notifications/{notes[0]['id']}/read", headers=viewer.headers)
    ).status_code == 204
    assert (
        await client.post("/api/notifications/read-all", headers=viewer.headers)
    ).status_code == 204
    assert (await client.get("/api/notifications/unread", headers=viewer.headers)).json() == {
        "unread": 0
    }

    # Live: a request waiting for the count to move answers when a mention arrives.
    waiting = asyncio.create_task(
        client.get(
            "/api/notifications/unread", params={"after": 0, "wait": 20}, headers=viewer.headers
        )
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await client.post(url, json={"body": f"{mention(viewer)} live"}, headers=editor.headers)
    r = await asyncio.wait_for(waiting, 15)
    assert r.json() == {"unread": 1}
    # With nothing new, it answers after the wait with the same count.
    r = await client.get(
        "/api/notifications/unread", params={"after": 1, "wait": 1}, headers=viewer.headers
    )
    assert r.json() == {"unread": 1}


async def test_editing_a_comment_notifies_only_new_mentions(client, factory):
    owner, _ws, editor, viewer, doc = await _team(factory)
    url = f"/api/documents/{doc['id']}/comments"
    c = (await client.post(url, json={"body": f"{mention(viewer)}"}, headers=editor.headers)).json()
    await client.patch(
        f"{url}/{c['id']}",
        json={"body": f"{mention(viewer)} {mention(owner)}"},
        headers=editor.headers,
    )
    assert len((await client.get("/api/notifications", headers=viewer.headers)).json()) == 1
    kinds = [
        n["kind"] for n in (await client.get("/api/notifications", headers=owner.headers)).json()
    ]
    assert kinds == ["mention", "comment"]
