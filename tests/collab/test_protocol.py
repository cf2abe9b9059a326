"""The Hocuspocus protocol frame by frame (raw Python client) and awareness with providers."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from mdreader.collab import protocol as p
from mdreader.collab.awareness import encode
from mdreader.collab.encoding import Decoder, var_bytes, var_string, var_uint
from tests.collab.harness import NodeClients, eventually, ws_url
from tests.conftest import Factory


class Raw:
    """A hand-driven Hocuspocus client: frames in, decoded (type, body) out."""

    def __init__(self, ws, name: str) -> None:
        self.ws = ws
        self.name = name
        self.address = var_string(name)

    async def send(self, message_type: int, body: bytes = b"") -> None:
        await self.ws.send(self.address + var_uint(message_type) + body)

    async def recv(self, within: float = 3) -> tuple[int, Decoder]:
        async with asyncio.timeout(within):
            while True:
                frame = await self.ws.recv()
                if frame in (p.PING, p.PONG):
                    continue
                d = Decoder(frame)
                assert d.read_var_string() == self.name
                return d.read_var_uint(), d

    async def expect(self, message_type: int, within: float = 3) -> Decoder:
        kind, d = await self.recv(within)
        assert kind == message_type, (kind, message_type)
        return d

    async def silent(self, within: float = 0.3) -> None:
        try:
            kind, _ = await self.recv(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message of type {kind}")

    async def auth(self, token: str) -> str:
        await self.send(p.MessageType.AUTH, var_uint(0) + var_string(token) + var_string("4.8.0"))
        d = await self.expect(p.MessageType.AUTH)
        assert d.read_var_uint() == p.AuthType.AUTHENTICATED
        return d.read_var_string()


def state(n: int) -> str:
    return json.dumps({"user": {"name": f"u{n}"}})


async def test_sync_handshake_acks_and_awareness_without_echo(factory: Factory, live):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "abc")
    url = ws_url(live.base) + "/ws"
    async with connect(url) as ws_a, connect(url) as ws_b:
        a, b = Raw(ws_a, doc["id"]), Raw(ws_b, doc["id"])
        assert await a.auth(owner.access_token) == "read-write"
        assert await b.auth(owner.access_token) == "read-write"
        # SyncStep1 with an empty state vector: SyncStep2 (the whole state), then SyncStep1.
        await a.send(p.MessageType.SYNC, var_uint(0) + var_bytes(b"\0"))
        d = await a.expect(p.MessageType.SYNC)
        assert d.read_var_uint() == p.SyncType.STEP2
        assert len(d.read_var_bytes()) > 3
        d = await a.expect(p.MessageType.SYNC)
        assert d.read_var_uint() == p.SyncType.STEP1
        # An empty update is acknowledged at once.
        await a.send(p.MessageType.SYNC, var_uint(2) + var_bytes(b"\0\0"))
        d = await a.expect(p.MessageType.SYNC_STATUS)
        assert d.read_var_uint() == 1

        # Awareness: relayed to the others, not echoed; a stale clock is dropped.
        await a.send(p.MessageType.AWARENESS, var_bytes(encode([(7, 1, state(7))])))
        d = await b.expect(p.MessageType.AWARENESS)
        assert d.read_var_bytes() == encode([(7, 1, state(7))])
        await a.silent()
        await a.send(p.MessageType.AWARENESS, var_bytes(encode([(7, 1, state(7))])))
        await b.silent()
        await a.send(p.MessageType.AWARENESS, var_bytes(encode([(7, 2, state(7))])))
        await b.expect(p.MessageType.AWARENESS)
        # Query awareness answers with every known state.
        await b.send(p.MessageType.QUERY_AWARENESS)
        d = await b.expect(p.MessageType.AWARENESS)
        assert d.read_var_bytes() == encode([(7, 2, state(7))])
        # Stateless messages go to the other connections of the document.
        await a.send(p.MessageType.STATELESS, var_string("hello"))
        d = await b.expect(p.MessageType.STATELESS)
        assert d.read_var_string() == "hello"
        # CLOSE from the client ends that document connection: its presence leaves.
        await a.send(p.MessageType.CLOSE)
        d = await b.expect(p.MessageType.AWARENESS)
        assert d.read_var_bytes() == encode([(7, 3, "null")])
        # Ping (a lone 9) is answered with a lone Pong (10).
        await ws_a.send(p.PING)
        async with asyncio.timeout(3):
            assert await ws_a.recv() == p.PONG


async def test_providers_see_each_others_presence(factory: Factory, live, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "")
    await node.open("a", live.base, doc["id"], owner.access_token, awareness={"name": "Ada"})
    await node.open("b", live.base, doc["id"], owner.access_token, awareness={"name": "Bob"})
    s = await node.wait("a", "awareness", 2)
    assert {e["state"].get("name") for e in s["awareness"]} == {"Ada", "Bob"}
    await node.call("stateless", cid="a", payload="ping")
    assert (await node.wait("b", "stateless", 1))["stateless"] == ["ping"]
    await node.call("destroy", cid="a")

    async def gone():
        s = await node.state("b")
        assert [e["state"].get("name") for e in s["awareness"]] == ["Bob"]

    await eventually(gone)


async def test_presence_is_ones_own(factory: Factory, live, node: NodeClients):
    """A client cannot set or clear another person's awareness state; its own it can."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    mallory = await factory.member(ws, owner, "editor", "mallory")
    doc = await factory.document(ws, owner, "Doc", "")
    await node.open("ada", live.base, doc["id"], owner.access_token, awareness={"name": "Ada"})
    ada_id = (await node.wait("ada", "awareness", 1))["clientId"]
    await node.open("bob", live.base, doc["id"], owner.access_token, awareness={"name": "Bob"})
    await node.wait("bob", "awareness", 2)
    async with connect(ws_url(live.base) + "/ws") as sock:
        raw = Raw(sock, doc["id"])
        await raw.auth(mallory.access_token)
        forged = [(ada_id, 10_000, json.dumps({"name": "Mallory as Ada"}))]
        cleared = [(ada_id, 20_000, "null")]
        for entries in (forged, cleared):
            await raw.send(p.MessageType.AWARENESS, var_bytes(encode(entries)))
        # Then her own state, which counts: once Bob sees it, the forgeries were handled.
        await raw.send(p.MessageType.AWARENESS, var_bytes(encode([(4242, 1, state(7))])))

        async def sees_mallory() -> dict:
            s = await node.state("bob")
            names = {e["clientId"]: e["state"] for e in s["awareness"]}
            assert names.get(4242) == {"user": {"name": "u7"}}
            return names

        names = await eventually(sees_mallory)
        assert names.get(ada_id) == {"name": "Ada"}, names
        # Her own she may clear.
        await raw.send(p.MessageType.AWARENESS, var_bytes(encode([(4242, 2, "null")])))

        async def mallory_gone() -> None:
            s = await node.state("bob")
            assert [e["state"].get("name") for e in s["awareness"]].count(None) == 0

        await eventually(mallory_gone)
