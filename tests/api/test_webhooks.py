"""Webhooks against a real HTTP receiver on this machine (allowed by the setting that lets
webhooks reach private addresses): signed deliveries, chosen events, retries with backoff, a
restart in between, the delivery log, switching off after failures, and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mdreader.app import create_app
from tests.collab.harness import eventually
from tests.conftest import Factory, make_settings

FAST = {
    "webhook_allow_private": True,
    "webhook_retry_delay": 0.2,
    "webhook_poll_interval": 0.05,
    "webhook_max_attempts": 4,
    "webhook_disable_after": 6,
}


class Receiver:
    """A plain HTTP server that keeps what it is sent and answers as told."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []  # status codes to give, in order; 200 once used up
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(
                    {"headers": dict(self.headers), "body": body, "at": time.monotonic()}
                )
                status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does: recompute the signature, refuse old timestamps (replays)."""
    timestamp = int(headers["X-MDReader-Timestamp"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), headers["X-MDReader-Signature"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
async def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, **FAST)


async def hook(factory: Factory, owner, ws, url: str, events: list[str]) -> dict[str, Any]:
    r = await factory.client.post(
        f"/api/workspaces/{ws['id']}/webhooks",
        json={"url": url, "events": events},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def deliveries(factory: Factory, owner, ws, hook_id: str) -> list[dict[str, Any]]:
    r = await factory.client.get(
        f"/api/workspaces/{ws['id']}/webhooks/{hook_id}/deliveries", headers=owner.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_events_arrive_signed_and_are_logged(factory: Factory, receiver: Receiver):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    made = await hook(
        factory, owner, ws, receiver.url, ["document.created", "document.updated", "share.created"]
    )
    assert made["secret"].startswith("whsec_") and made["active"] is True
    doc = await factory.document(ws, owner, "Plan", "text")
    c = factory.client
    r = await c.patch(f"/api/documents/{doc['id']}", json={"content": "new"}, headers=owner.headers)
    assert r.status_code == 200
    r = await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    assert r.status_code == 201
    await c.delete(f"/api/documents/{doc['id']}", headers=owner.headers)  # not chosen

    async def three() -> None:
        assert len(receiver.received) == 3

    await eventually(three)
    events = []
    for got in receiver.received:
        assert verify(made["secret"], got["headers"], got["body"])
        assert not verify("whsec_wrong", got["headers"], got["body"])
        payload = json.loads(got["body"])
        assert payload["event"] == got["headers"]["X-MDReader-Event"]
        assert payload["id"] == got["headers"]["X-MDReader-Delivery"]
        assert payload["workspace_id"] == ws["id"]
        assert payload["data"]["document"]["id"] == doc["id"]
        events.append(payload["event"])
    assert sorted(events) == ["document.created", "document.updated", "share.created"]
    # A replayed delivery with an old timestamp is refused by the receiver's check.
    old = dict(
        receiver.received[0]["headers"], **{"X-MDReader-Timestamp": str(int(time.time()) - 3600)}
    )
    assert not verify(made["secret"], old, receiver.received[0]["body"])

    async def logged() -> None:
        log = await deliveries(factory, owner, ws, made["id"])
        assert [d["status"] for d in log] == ["delivered"] * 3
        assert all(d["last_status_code"] == 200 and d["attempts"] == 1 for d in log)

    await eventually(logged)


async def test_member_and_restore_events(factory: Factory, receiver: Receiver):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await hook(
        factory,
        owner,
        ws,
        receiver.url,
        ["member.added", "member.removed", "document.trashed", "document.restored"],
    )
    member = await factory.member(ws, owner, "editor")
    doc = await factory.document(ws, owner, "D", "")
    c = factory.client
    await c.delete(f"/api/documents/{doc['id']}", headers=owner.headers)
    await c.post(f"/api/documents/{doc['id']}/restore", headers=owner.headers)
    r = await c.delete(f"/api/workspaces/{ws['id']}/members/{member.id}", headers=owner.headers)
    assert r.status_code == 204

    async def four() -> None:
        # Deliveries of separate changes may arrive in any order (several are sent at once).
        assert sorted(json.loads(g["body"])["event"] for g in receiver.received) == [
            "document.restored",
            "document.trashed",
            "member.added",
            "member.removed",
        ]

    await eventually(four)


async def test_retries_back_off_and_then_deliver(factory: Factory, receiver: Receiver):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    made = await hook(factory, owner, ws, receiver.url, ["document.created"])
    receiver.answers = [500, 503]
    await factory.document(ws, owner, "Retry me", "")

    async def delivered() -> None:
        (d,) = await deliveries(factory, owner, ws, made["id"])
        assert d["status"] == "delivered" and d["attempts"] == 3

    await eventually(delivered, within=20)
    first, second, third = (g["at"] for g in receiver.received)
    # Waits of at least the delay, then twice it (never sooner).
    assert second - first >= 0.2 and third - second >= 0.4
    assert len({g["headers"]["X-MDReader-Delivery"] for g in receiver.received}) == 1


async def test_a_failing_target_is_given_up_and_the_webhook_switched_off(
    factory: Factory, receiver: Receiver
):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    made = await hook(factory, owner, ws, receiver.url, ["document.created"])
    receiver.answers = [500] * 100
    await factory.document(ws, owner, "One", "")
    await factory.document(ws, owner, "Two", "")

    async def switched_off() -> None:
        r = await factory.client.get(f"/api/workspaces/{ws['id']}/webhooks", headers=owner.headers)
        (h,) = r.json()
        assert h["active"] is False and "6 failed attempts" in h["disabled_reason"]

    # Six attempts with their backoff: a loaded machine stretches the worker's turns.
    await eventually(switched_off, within=120)
    assert (
        "(last: HTTP 500)"
        in (
            await factory.client.get(f"/api/workspaces/{ws['id']}/webhooks", headers=owner.headers)
        ).json()[0]["disabled_reason"]
    )

    async def given_up() -> None:
        log = await deliveries(factory, owner, ws, made["id"])
        assert [d["status"] for d in log] == ["failed", "failed"]
        assert {d["last_status_code"] for d in log} == {500}

    await eventually(given_up, within=20)
    # Switched off: new events are not queued; on again, they are, and the count restarts.
    count = len(receiver.received)
    await factory.document(ws, owner, "Three", "")
    assert len(await deliveries(factory, owner, ws, made["id"])) == 2
    r = await factory.client.patch(
        f"/api/workspaces/{ws['id']}/webhooks/{made['id']}",
        json={"active": True},
        headers=owner.headers,
    )
    assert r.json()["active"] is True and r.json()["failures"] == 0
    receiver.answers = []
    await factory.document(ws, owner, "Four", "")

    async def again() -> None:
        assert len(receiver.received) > count
        assert json.loads(receiver.received[-1]["body"])["data"]["document"]["title"] == "Four"

    await eventually(again)


async def test_deliveries_survive_a_restart(tmp_path, database_url, outbox, receiver: Receiver):
    settings = make_settings(tmp_path, database_url, **{**FAST, "webhook_retry_delay": 1.0})
    first = create_app(settings, mailer=outbox)
    receiver.answers = [503]
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            factory = Factory(c, outbox)
            owner = await factory.user("owner")
            ws = await factory.workspace(owner)
            made = await hook(factory, owner, ws, receiver.url, ["document.created"])
            await factory.document(ws, owner, "Across a restart", "")

            async def tried_once() -> None:
                (d,) = await deliveries(factory, owner, ws, made["id"])
                assert d["attempts"] == 1 and d["status"] == "pending"

            await eventually(tried_once)
    # The first server is gone with its retry still due; the next one sends it.
    second = create_app(settings, mailer=outbox)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            factory = Factory(c, outbox)

            async def delivered() -> None:
                (d,) = await deliveries(factory, owner, ws, made["id"])
                assert d["status"] == "delivered" and d["attempts"] == 2

            await eventually(delivered, within=20)
    assert [g["headers"]["X-MDReader-Delivery"] for g in receiver.received].count(
        made["id"]
    ) == 0  # the delivery id, not the webhook's
    assert len(receiver.received) == 2


async def test_private_and_local_targets_are_refused(tmp_path, database_url, outbox, receiver):
    settings = make_settings(tmp_path, database_url, **{**FAST, "webhook_allow_private": False})
    application = create_app(settings, mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            factory = Factory(c, outbox)
            owner = await factory.user("owner")
            ws = await factory.workspace(owner)
            for url, code in (
                (receiver.url, "private_target"),
                ("http://localhost:9/x", "private_target"),
                ("http://10.1.2.3/x", "private_target"),
                ("http://169.254.169.254/latest/meta-data", "private_target"),
                ("http://[::1]/x", "private_target"),
                ("http://[::ffff:127.0.0.1]/x", "private_target"),
                ("ftp://example.com/x", "invalid_url"),
                ("not a url", "invalid_url"),
            ):
                r = await c.post(
                    f"/api/workspaces/{ws['id']}/webhooks",
                    json={"url": url, "events": ["document.created"]},
                    headers=owner.headers,
                )
                assert r.status_code == 422, (url, r.text)
                assert r.json()["code"] == code, url
            # A hook saved before the guard (here: written straight to the database) is
            # checked again before each attempt: nothing reaches the address.
            from mdreader.services import webhooks as svc

            services = application.state.services
            async with services.db.session() as session:
                services.settings.webhook_allow_private = True
                made = await svc.create(
                    services,
                    session,
                    uuid_of(ws),
                    uuid_of(owner.id),
                    receiver.url,
                    ["document.created"],
                )
                services.settings.webhook_allow_private = False
            await factory.document(ws, owner, "Nope", "")

            async def refused() -> None:
                (d,) = await deliveries(factory, owner, ws, str(made.id))
                assert d["attempts"] >= 1 and "private or local address" in d["last_error"]

            await eventually(refused)
    assert receiver.received == []


def uuid_of(value: Any) -> Any:
    import uuid

    return uuid.UUID(value["id"] if isinstance(value, dict) else value)


async def test_comment_events(factory: Factory, receiver: Receiver):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await hook(factory, owner, ws, receiver.url, ["comment.created"])
    doc = await factory.document(ws, owner, "Discussed", "text")
    c = factory.client
    base = f"/api/documents/{doc['id']}/comments"
    thread = await c.post(base, json={"body": "A thought"}, headers=owner.headers)
    assert thread.status_code == 201, thread.text
    reply = await c.post(
        f"{base}/{thread.json()['id']}/replies", json={"body": "Agreed"}, headers=owner.headers
    )
    assert reply.status_code == 201, reply.text

    async def two() -> None:
        assert len(receiver.received) == 2

    await eventually(two)
    payloads = [json.loads(g["body"]) for g in receiver.received]
    assert [p["event"] for p in payloads] == ["comment.created", "comment.created"]
    # Deliveries of separate changes are not ordered among themselves (as elsewhere here).
    assert sorted(p["data"]["comment"]["body"] for p in payloads) == ["A thought", "Agreed"]
    assert {p["data"]["comment"]["thread_id"] for p in payloads} == {thread.json()["id"]}
    assert all(p["data"]["document"]["id"] == doc["id"] for p in payloads)
