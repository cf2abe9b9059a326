"""Stall checks against a real server in a subprocess: while work that used to hold the
event loop for seconds runs — a burst of anonymous requests for a 1 MiB shared page, a large
import — /health keeps answering within 100 ms."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.collab.harness import ServerProcess, server_env
from tests.conftest import Factory, make_settings
from tests.test_render import big_markdown


@pytest.fixture
async def live(tmp_path, database_url, outbox) -> AsyncIterator[tuple[ServerProcess, Any]]:
    """A server process, and a signed-in owner with a workspace on it."""
    settings = make_settings(tmp_path, database_url)
    env = server_env(
        settings, MDREADER_SHARE_RATE_LIMIT_REQUESTS="0", MDREADER_RATE_LIMIT_REQUESTS="0"
    )
    server = await ServerProcess(env).start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=120) as c:
            factory = Factory(c, outbox)
            owner = await factory.user("stall")
            ws = await factory.workspace(owner)
            yield server, (c, factory, owner, ws)
    finally:
        await server.stop()


async def _fetch(port: int, path: str) -> tuple[int, float]:
    """One request over a raw socket (``Connection: close``): status and seconds taken,
    reading the answer in large chunks so that the client itself costs little."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    first = await reader.read(65536)
    while await reader.read(1 << 20):
        pass
    writer.close()
    return int(first.split(b" ", 2)[1]), time.perf_counter() - started


async def _probe_while(port: int, busy: list[asyncio.Task[Any]]) -> list[float]:
    """/health latencies, one probe every 20 ms, until the busy tasks are done."""
    probes: list[float] = []
    while not all(task.done() for task in busy):
        status, seconds = await _fetch(port, "/health")
        assert status == 200
        probes.append(seconds)
        await asyncio.sleep(0.02)
    return probes


def _assert_answering(probes: list[float]) -> None:
    """Within 100 ms, but for the odd probe a busy shared machine's scheduler delays: work
    on the event loop would hold every probe for as long as it runs (seconds)."""
    assert len(probes) >= 5, probes
    probes = sorted(probes)
    p90 = probes[int(len(probes) * 0.9)]
    assert p90 < 0.1 and probes[-1] < 1.0, f"/health p90 {p90:.3f} s, max {probes[-1]:.3f} s"


async def test_a_burst_for_a_1_mib_shared_page_leaves_health_answering(live):
    server, (c, factory, owner, ws) = live
    doc = await factory.document(ws, owner, "Big", big_markdown())
    r = await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    token = r.json()["token"]
    port = server.port
    baseline = [await _fetch(port, "/health") for _ in range(5)]
    assert all(status == 200 for status, _ in baseline)
    burst = [asyncio.create_task(_fetch(port, f"/s/{token}")) for _ in range(30)]
    probes = await _probe_while(port, burst)
    assert all(task.result()[0] == 200 for task in burst)
    _assert_answering(probes)


async def test_a_large_import_leaves_health_answering(live):
    server, (c, _factory, owner, ws) = live
    text = big_markdown(3000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3000):
            zf.writestr(f"part {i // 100}/note {i}.md", f"# Note {i}\n\n{text}")

    async def run_import() -> httpx.Response:
        return await c.post(
            f"/api/workspaces/{ws['id']}/import",
            files={"files": ("big.zip", buf.getvalue(), "application/zip")},
            headers=owner.headers,
        )

    started = time.perf_counter()
    task = asyncio.create_task(run_import())
    probes = await _probe_while(server.port, [task])
    r = task.result()
    assert r.status_code == 201, r.text
    assert len(r.json()) == 3000 + 30  # the notes and their 30 folders
    assert time.perf_counter() - started > 0.3  # the probes ran while it worked
    _assert_answering(probes)
