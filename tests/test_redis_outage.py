"""A Redis outage is an inconvenience, not an error: a real redis-server of the test's own
(on a free port, its data kept on disk across the restart) is stopped and started again.

While it is down REST reads and writes answer (sessions are checked in the database, rate
limits counted in memory), new collaboration sockets open and each instance serves its own
clients, and ``/health/ready`` says the cache is down; when it is back the instances converge,
and a cache entry from before the outage is not trusted (a session revoked meanwhile stays
revoked although its "valid" entry is still in Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from mdreader.app import create_app
from tests.collab.harness import InProcessServer, NodeClients, eventually
from tests.conftest import Factory, Outbox, make_settings, unavailable


class OwnRedis:
    """redis-server on a free port, appending every write to disk so a restart keeps them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

        async def answers() -> None:
            redis = Redis.from_url(self.url)
            try:
                assert await redis.ping()
            except Exception as exc:
                raise AssertionError(str(exc)) from None
            finally:
                await redis.aclose()

        await eventually(answers, within=20)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 20)
        self.proc = None


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is needed for the Redis outage tests")
    folder = tmp_path / "redis"
    folder.mkdir()
    redis = OwnRedis(folder)
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


@contextlib.asynccontextmanager
async def instance(settings: Any, outbox: Outbox) -> AsyncIterator[tuple[Any, Factory]]:
    application = create_app(settings, mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, Factory(c, outbox)


@pytest.fixture
def outage_settings(tmp_path: Path, database_url: str, own_redis: OwnRedis) -> Iterator[Any]:
    yield make_settings(
        tmp_path,
        database_url,
        redis_url=own_redis.url,
        # Low enough that the outage's requests meet the limit, counted in memory.
        rate_limit_requests=60,
    )


async def _ready(factory: Factory) -> httpx.Response:
    return await factory.client.get("/health/ready")


async def test_rest_answers_while_redis_is_down_and_trusts_no_stale_entry(
    outage_settings: Any, own_redis: OwnRedis
):
    async with instance(outage_settings, Outbox()) as (_app, factory):
        owner = await factory.user("owner")
        other = await factory.login(owner.id, owner.email, owner.password)  # a second session
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Plan", "before")
        # Both sessions are checked once, so Redis holds a "valid" entry for each.
        for user in (owner, other):
            r = await factory.client.get("/api/auth/me", headers=user.headers)
            assert r.status_code == 200
        sessions = (await factory.client.get("/api/auth/sessions", headers=owner.headers)).json()
        other_session = next(s["id"] for s in sessions if not s["current"])

        await own_redis.stop()
        r = await _ready(factory)
        assert r.status_code == 503 and "cache" in r.json()["failed"], r.text

        # Reads and writes answer; sessions are checked in the database.
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.status_code == 200 and r.json()["content"] == "before"
        r = await factory.client.patch(
            f"/api/documents/{doc['id']}", json={"content": "during"}, headers=owner.headers
        )
        assert r.status_code == 200, r.text
        created = await factory.document(ws, owner, "New", "made while Redis was away")
        late = await factory.login(owner.id, owner.email, owner.password)
        # A revocation while Redis is away: its cache entry cannot be deleted.
        r = await factory.client.delete(
            f"/api/auth/sessions/{other_session}", headers=owner.headers
        )
        assert r.status_code == 204
        r = await factory.client.get("/api/auth/me", headers=other.headers)
        assert r.status_code == 401
        # Rate limits still hold, counted in this process's memory.
        statuses = [
            (await factory.client.get("/api/auth/me", headers=late.headers)).status_code
            for _ in range(70)
        ]
        assert 429 in statuses and set(statuses) <= {200, 429}

        await own_redis.start()
        # The old "valid" entry of the revoked session is still in Redis.
        redis = Redis.from_url(own_redis.url)
        try:
            assert await redis.exists(f"mdreader:cache:v2:sess:{other_session}")
        finally:
            await redis.aclose()

        async def ready_again() -> None:
            assert (await _ready(factory)).status_code == 200

        await eventually(ready_again, within=20)
        # Not trusted: it was written before the outage ended.
        r = await factory.client.get("/api/auth/me", headers=other.headers)
        assert r.status_code == 401
        r = await factory.client.get(f"/api/documents/{created['id']}", headers=owner.headers)
        assert r.status_code == 200 and r.json()["content"] == "made while Redis was away"
        r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
        assert r.json()["content"] == "during"


@pytest.fixture
async def node_clients() -> AsyncIterator[NodeClients]:
    from tests.collab.harness import ensure_node_modules

    error = ensure_node_modules()
    if error:
        unavailable(error)
    clients = await NodeClients().start()
    yield clients
    await clients.close()


async def test_collaboration_while_redis_is_down(
    outage_settings: Any, own_redis: OwnRedis, node_clients: NodeClients
):
    node = node_clients
    outbox = Outbox()
    async with (
        instance(outage_settings, outbox) as (app_a, factory),
        instance(outage_settings, outbox) as (app_b, _factory_b),
        InProcessServer(app_a) as a,
        InProcessServer(app_b) as b,
    ):
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Live", "")
        await node.open("a1", a.base, doc["id"], owner.access_token)
        await node.open("b1", b.base, doc["id"], owner.access_token)
        await node.wait("a1", "synced")
        await node.wait("b1", "synced")
        await node.call("insert", cid="a1", index=0, text="one ")
        await node.wait("b1", "text", "one ")

        await own_redis.stop()
        # New sockets open and authenticate; each instance serves its own clients.
        await node.open("a2", a.base, doc["id"], owner.access_token)
        assert (await node.wait("a2", "synced"))["text"] == "one "
        await node.open("y", b.base, doc["id"], owner.access_token)
        await node.wait("y", "synced")
        await node.call("insert", cid="a2", index=None, text="two ")
        await node.wait("a1", "text", "one two ")
        assert (await node.wait("a2", "acked"))["text"] == "one two "
        await node.call("insert", cid="b1", index=0, text="zero ")
        await node.wait("y", "length", len("zero one "))
        assert (await node.wait("b1", "acked"))["text"].startswith("zero ")

        await own_redis.start()
        # Back: the instances re-read the database and converge.
        expected = "zero one two "
        for cid in ("a1", "a2", "b1", "y"):
            await node.wait(cid, "text", expected, within=30)
        await node.call("insert", cid="y", index=None, text="three")
        await node.wait("a2", "text", expected + "three", within=30)
        await asyncio.sleep(0)
