"""Two server processes on PostgreSQL share documents through Redis, with no sticky routing:
clients of either converge, presence crosses over, and a Redis outage loses no update (the
processes re-read the database when the bus comes back)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest

from tests.collab.harness import NodeClients, ServerProcess, eventually, server_env
from tests.conftest import REDIS_URL, Factory

pytestmark = pytest.mark.postgresql


class FlakyProxy:
    """A TCP proxy to Redis that can drop every connection and refuse new ones for a while."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.pipes: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> FlakyProxy:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server
        self.server.close()
        self.drop()
        for task in list(self.pipes):
            task.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)

    @property
    def port(self) -> int:
        assert self.server
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()

    def drop(self) -> None:
        self.up = False
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()


async def test_two_processes_converge_through_redis_and_survive_an_outage(
    factory: Factory, settings, node: NodeClients
):
    assert REDIS_URL, "the PostgreSQL pass runs with Redis"
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Shared", "base\n")
    redis = urlsplit(REDIS_URL)
    async with FlakyProxy(redis.hostname or "127.0.0.1", redis.port or 6379) as proxy:
        proxied = f"redis://127.0.0.1:{proxy.port}{redis.path}"
        env = server_env(settings, MDREADER_REDIS_URL=proxied)
        one = await ServerProcess(env).start()
        two = await ServerProcess(env).start()
        try:
            clients = {f"one-{i}": one for i in range(3)} | {f"two-{i}": two for i in range(3)}
            for cid, server in clients.items():
                await node.open(
                    cid, server.base, doc["id"], owner.access_token, awareness={"n": cid}
                )
            for cid in clients:
                assert (await node.wait(cid, "synced"))["text"] == "base\n"
            # Presence crosses processes.
            await node.wait("one-0", "awareness", 6)

            await asyncio.gather(
                *(
                    node.call("burst", cid=cid, count=15, prefix=chr(ord("A") + i))
                    for i, cid in enumerate(clients)
                )
            )
            total = len("base\n") + 15 * len(clients)
            for cid in clients:
                await node.wait(cid, "length", total)
            texts = {(await node.wait(cid, "acked"))["text"] for cid in clients}
            assert len(texts) == 1

            # Redis goes away: edits are still acknowledged (durable), but not fanned out.
            proxy.drop()
            await node.call("insert", cid="one-0", index=0, text="[one during outage]")
            await node.call("insert", cid="two-0", index=0, text="[two during outage]")
            await node.wait("one-0", "acked")
            await node.wait("two-0", "acked")
            await asyncio.sleep(0.5)
            proxy.up = True  # back: the processes resubscribe and re-read the database

            final = None
            for cid in clients:
                s = await node.wait(cid, "length", total + 38, within=30)
                final = final or s["text"]
                assert s["text"] == final
            assert "[one during outage]" in final and "[two during outage]" in final

            async def stored():
                r = await factory.client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
                assert r.json()["content"] == final

            await eventually(stored)
        finally:
            await one.kill()
            await two.kill()
