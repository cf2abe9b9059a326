"""Slow and greedy clients against a real server (serving.py): header and body read
timeouts, the cap on open connections per address, the open-files limit, and several
workers without Redis refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mdreader.serving import ServingLimits
from tests.collab.harness import InProcessServer, eventually
from tests.conftest import make_settings, serving

LIMITS = {"header_timeout": 0.5, "body_timeout": 0.5, "max_connections_per_address": 3}


@pytest.fixture
async def server(tmp_path, database_url, outbox) -> AsyncIterator[InProcessServer]:
    settings = make_settings(tmp_path, database_url, **LIMITS)
    async with serving(settings, outbox) as (app, _factory), InProcessServer(app) as live:
        yield live


async def _open(live: InProcessServer, source: str = "127.0.0.1") -> tuple[Any, Any]:
    port = int(live.base.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _answer(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(within):
        return await reader.read()


async def test_headers_that_never_finish_get_408_and_a_closed_connection(server):
    reader, writer = await _open(server)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    started = time.monotonic()
    answer = await _answer(reader)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
    assert time.monotonic() - started < 4
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(server):
    reader, writer = await _open(server)
    answer = await _answer(reader)
    assert answer.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_a_body_that_stops_arriving_gets_408(server):
    reader, writer = await _open(server)
    writer.write(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"email": '
    )
    await writer.drain()
    answer = await _answer(reader)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    writer.close()


async def test_a_slow_but_steady_body_and_keep_alive_still_work(server):
    """The body timer restarts with every chunk; a kept-alive connection serves again."""
    reader, writer = await _open(server)
    body = b'{"email": "nobody@example.com", "password": "Wrong-pass-1"}'
    writer.write(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    for i in range(0, len(body), 20):
        writer.write(body[i : i + 20])
        await writer.drain()
        await asyncio.sleep(0.2)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 401"), head
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    await reader.readexactly(length)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_open_connections_are_capped_per_address(server):
    held = [await _open(server) for _ in range(3)]
    reader, writer = await _open(server)
    answer = await _answer(reader)
    assert answer.startswith(b"HTTP/1.1 429") and b"too_many_connections" in answer
    writer.close()
    # Another address is not affected (all of 127.0.0.0/8 is this machine).
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    ) as other:
        assert (await other.get(f"{server.base}/health")).status_code == 200
    for _, w in held:
        w.close()

    async def room_again() -> None:
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{server.base}/health")).status_code == 200

    await eventually(room_again, within=5)


async def test_websockets_hold_a_slot_too(server):
    import websockets

    url = server.base.replace("http://", "ws://") + "/ws"
    sockets = [await websockets.connect(url) for _ in range(3)]
    try:
        reader, writer = await _open(server)
        assert (await _answer(reader)).startswith(b"HTTP/1.1 429")
        writer.close()
    finally:
        for ws in sockets:
            await ws.close()

    async def room_again() -> None:
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{server.base}/health")).status_code == 200

    await eventually(room_again, within=5)


def test_trusted_proxies_are_not_capped():
    limits = ServingLimits(per_address=2, exempt=("10.0.0.0/8",))
    assert not limits.capped("10.1.2.3") and limits.capped("203.0.113.9")
    assert not ServingLimits(per_address=0).capped("203.0.113.9")


def test_the_open_files_limit_is_raised_at_start_up():
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))\n"
        "from mdreader.serving import raise_open_files_limit\n"
        "before, after = raise_open_files_limit()\n"
        "assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == after\n"
        "print(before, after, hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, after, hard = (int(x) for x in out.stdout.split())
    assert before <= 256 and after == hard


def test_several_workers_without_redis_are_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env["MDREADER_DATA_DIR"] = str(tmp_path / "data")
    out = subprocess.run(
        [sys.executable, "-m", "mdreader", "serve", "--workers", "2", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--workers 2 needs MDREADER_REDIS_URL" in out.stderr
    assert "revoked session" in out.stderr
