"""Deadlines: a socket that never authenticates, or goes silent, is closed; a quiet client is
pinged (providers answer Pong and stay connected)."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mdreader.collab import protocol as p
from tests.collab.harness import NodeClients, ws_url
from tests.collab.test_protocol import Raw
from tests.conftest import Factory


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "collab_auth_timeout": 0.6,
            "collab_ping_interval": 0.3,
            "collab_idle_timeout": 1.5,
        }
    )


async def closed_code(ws, within: float) -> int | None:
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_unauthenticated_and_silent_sockets_are_closed(factory: Factory, live):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "")
    url = ws_url(live.base) + "/ws"
    async with connect(url) as never_auths:
        assert await closed_code(never_auths, 5) == p.CLOSE_TIMEOUT
    async with connect(url) as silent:
        raw = Raw(silent, doc["id"])
        await raw.auth(owner.access_token)
        pinged = False
        try:
            async with asyncio.timeout(5):
                while True:
                    frame = await silent.recv()
                    pinged = pinged or frame == p.PING
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == p.CLOSE_TIMEOUT
        assert pinged


async def test_quiet_providers_are_kept_alive_by_ping_pong(
    factory: Factory, live, node: NodeClients
):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "quiet")
    await node.open("h", live.base, doc["id"], owner.access_token)
    await node.open_yws("y", live.base, doc["id"], owner.access_token)
    await node.wait("h", "synced")
    await node.wait("y", "synced")
    await asyncio.sleep(2.5)  # longer than the idle timeout: only the pings keep them
    for cid in ("h", "y"):
        s = await node.state(cid)
        assert s["closes"] == [] and s["status"] == "connected", s
    await node.call("insert", cid="y", index=0, text="still ")
    await node.wait("h", "text", "still quiet")
