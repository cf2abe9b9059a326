"""Stall checks against a real server in a subprocess: while work that used to hold the
event loop for seconds runs — a burst of anonymous requests for a 1 MiB shared page, a large
import — the loop never runs 100 ms of CPU at a stretch, and /health keeps answering.

The loop is watched from inside the server (``tests/serve.py``, MDREADER_TEST_LOOP_WATCH): the
CPU time of the loop's thread between two ticks of a 10 ms timer, which a loaded machine does
not stretch (waiting for a core is not CPU time). The /health probes are wall time, so they
are held to a reference measured in the same run: how long the work itself took, which is
about what a probe would wait if the work ran on the loop."""

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

# While the work goes on, the loop runs less than LONGEST of CPU at any stretch (a render of
# the 1 MiB page alone is about 0.8 s of CPU; the import's largest step about 0.1 s), and
# stretches over SHORT take less than a tenth of the time (the probes' p90 under SHORT).
LONGEST = 0.25
SHORT = 0.1


@pytest.fixture
async def live(tmp_path, database_url, outbox) -> AsyncIterator[tuple[ServerProcess, Any]]:
    """A server process watching its event loop, and a signed-in owner with a workspace."""
    settings = make_settings(tmp_path, database_url)
    env = server_env(
        settings,
        MDREADER_SHARE_RATE_LIMIT_REQUESTS="0",
        MDREADER_RATE_LIMIT_REQUESTS="0",
        MDREADER_TEST_LOOP_WATCH=str(tmp_path / "loop-watch.log"),
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


def _stretches(server: ServerProcess, since: float) -> list[tuple[float, float]]:
    """(CPU seconds, wall seconds) of each stretch the server's loop ran busy since
    ``since`` (time.monotonic, one clock for every process on the machine)."""
    path = server.env["MDREADER_TEST_LOOP_WATCH"]
    found = []
    with open(path) as lines:
        for line in lines:
            at, cpu, wall = (float(word) for word in line.split())
            if at >= since:
                found.append((cpu, wall))
    return found


def _assert_answering(
    probes: list[float], server: ServerProcess, since: float, held: float
) -> None:
    """Since ``since``, over ``held`` seconds of work: the loop never ran LONGEST of CPU at a
    stretch, stretches over SHORT add up to less than a tenth of the time, and no /health
    probe waited half as long as the work took (work on the loop would hold the probe in
    flight for about that long, loaded machine or not)."""
    assert len(probes) >= 5, probes
    stretches = _stretches(server, since)
    longest = max(stretches, default=(0.0, 0.0))
    assert longest[0] < LONGEST, (
        f"the event loop ran {longest[0]:.3f} s of CPU at a stretch ({longest[1]:.3f} s wall)"
    )
    busy = sum(cpu for cpu, _wall in stretches if cpu > SHORT)
    assert busy < held / 10, f"{busy:.3f} s of {held:.3f} s in stretches over {SHORT} s"
    probes = sorted(probes)
    p90 = probes[int(len(probes) * 0.9)]
    assert probes[-1] < held / 2, (
        f"/health p90 {p90:.3f} s, max {probes[-1]:.3f} s, against {held:.3f} s of work"
    )


async def test_a_burst_for_a_1_mib_shared_page_leaves_health_answering(live):
    server, (c, factory, owner, ws) = live
    doc = await factory.document(ws, owner, "Big", big_markdown())
    r = await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    token = r.json()["token"]
    port = server.port
    baseline = [await _fetch(port, "/health") for _ in range(5)]
    assert all(status == 200 for status, _ in baseline)
    since = time.monotonic()
    burst = [asyncio.create_task(_fetch(port, f"/s/{token}")) for _ in range(30)]
    probes = await _probe_while(port, burst)
    assert all(task.result()[0] == 200 for task in burst)
    # Every request of the burst waits for the one render of the page: the quickest of them
    # took at least as long as the render, which the loop would have been held for.
    held = min(task.result()[1] for task in burst)
    _assert_answering(probes, server, since, held)


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

    since = started = time.monotonic()
    task = asyncio.create_task(run_import())
    probes = await _probe_while(server.port, [task])
    r = task.result()
    held = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert len(r.json()) == 3000 + 30  # the notes and their 30 folders
    assert held > 0.3  # the probes ran while it worked
    _assert_answering(probes, server, since, held)
