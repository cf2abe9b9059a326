"""Malformed, truncated, oversized and unknown frames close the socket that sent them; the
process, its other sockets and other documents carry on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mdreader.collab import protocol as p
from mdreader.collab.encoding import var_bytes, var_string, var_uint
from tests.collab.harness import NodeClients, ws_url
from tests.conftest import Factory

# Close codes a bad frame may earn; 1011 (an internal error) would be a bug.
ACCEPTED_CLOSES = {1000, 1007, 1009, p.CLOSE_RESET, p.CLOSE_FORBIDDEN, p.CLOSE_TIMEOUT}


def auth_frame(name: str, token: str) -> bytes:
    return var_string(name) + var_uint(p.MessageType.AUTH) + var_uint(0) + var_string(token)


async def exchange(base: str, frames: list[bytes], wait: float = 0.3) -> int | None:
    """Send the frames; return the close code if the server closed the socket."""
    async with connect(ws_url(base) + "/ws", max_size=None) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            # A Ping must still be answered if the socket survived.
            await ws.send(p.PING)
            async with asyncio.timeout(wait + 2):
                while True:
                    reply = await ws.recv()
                    if reply == p.PONG:
                        return None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
        except TimeoutError:
            return None
    return None


def frames_strategy(name: str, token: str) -> st.SearchStrategy[list[bytes]]:
    address = var_string(name)
    kinds = st.integers(min_value=0, max_value=12)
    noise = st.binary(max_size=200)
    addressed = st.builds(lambda k, rest: address + var_uint(k) + rest, kinds, noise)
    sync = st.builds(
        lambda sub, payload, cut: (address + var_uint(0) + var_uint(sub) + var_bytes(payload))[
            : cut or None
        ],
        st.integers(min_value=0, max_value=4),
        noise,
        st.integers(min_value=0, max_value=40),
    )
    awareness = st.builds(
        lambda n, entries: address + var_uint(1) + var_bytes(var_uint(n) + entries),
        st.integers(min_value=0, max_value=2**40),
        noise,
    )
    after_auth = st.lists(st.one_of(addressed, sync, awareness), min_size=1, max_size=4).map(
        lambda fs: [auth_frame(name, token), *fs]
    )
    before_auth = st.lists(st.one_of(noise, addressed, sync), min_size=1, max_size=4)
    huge_claim = st.just([address + var_uint(0) + var_uint(2) + var_uint(2**50)])
    return st.one_of(after_auth, before_auth, huge_claim)


async def test_fuzzed_frames_close_only_their_socket(factory: Factory, live, node: NodeClients):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    target = await factory.document(ws, owner, "Fuzzed", "fuzz me")
    bystander = await factory.document(ws, owner, "Calm", "calm")
    await node.open("calm", live.base, bystander["id"], owner.access_token)
    await node.wait("calm", "synced")
    loop = asyncio.get_running_loop()
    codes: list[int | None] = []

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(frames=frames_strategy(target["id"], owner.access_token))
    def run(frames: list[bytes]) -> None:
        code = asyncio.run_coroutine_threadsafe(exchange(live.base, frames), loop).result(30)
        codes.append(code)
        assert code is None or code in ACCEPTED_CLOSES, (code, frames)

    await loop.run_in_executor(None, run)
    assert any(c is not None for c in codes)  # bad frames were noticed...
    # ...and the bystander document, on its own socket, never was.
    await node.call("insert", cid="calm", index=4, text="!")
    assert (await node.wait("calm", "acked"))["text"] == "calm!"
    await node.open("after", live.base, target["id"], owner.access_token)
    await node.wait("after", "synced")
    await node.call("insert", cid="after", index=0, text="ok ")
    await node.wait("after", "acked")


async def test_oversized_text_and_unknown_frames(factory: Factory, live, app: Any):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "")
    limit = app.state.settings.collab_max_message_bytes
    big = auth_frame(doc["id"], owner.access_token) + b"\0" * limit
    assert await exchange(live.base, [big]) == 1009
    async with connect(ws_url(live.base) + "/ws") as sock:
        await sock.send("a text frame")
        with contextlib.suppress(ConnectionClosed):
            await sock.recv()
        assert sock.close_code == 1007
    # A client may not use the server-internal BroadcastStateless opcode.
    frames = [
        auth_frame(doc["id"], owner.access_token),
        var_string(doc["id"]) + var_uint(p.MessageType.BROADCAST_STATELESS) + var_string("x"),
    ]
    assert await exchange(live.base, frames) == 1007


async def test_preauth_queue_and_pending_documents_are_bounded(factory: Factory, live, app: Any):
    s = app.state.settings
    frames = [var_string("doc") + var_uint(p.MessageType.AWARENESS) + var_bytes(b"\0")] * (
        s.collab_max_preauth_messages + 1
    )
    assert await exchange(live.base, frames) == p.CLOSE_RESET
    names = [var_string(f"doc-{i}") + var_uint(p.MessageType.QUERY_AWARENESS) for i in range(50)]
    assert await exchange(live.base, names) == p.CLOSE_RESET
    assert websockets  # the Python client used for these raw frames
