"""bench/collab/workload: a fixed collaboration workload in one process, for counting what
an update costs the server without the network or a load generator's noise.

The app is started as ``mdreader serve`` starts it (SQLite in a scratch folder, its lifespan:
the collaboration server, the update log's group commit, the compactor). Sockets are the
core's own ``ClientSocket`` over a transport that only counts the bytes it is given, so each
frame goes through the same code as under ``mdreader serve`` from the moment the WebSocket
protocol hands it over: frame decoding, the Yjs apply, the durable append (the
acknowledgement waits for the commit), the relay to the other clients, the acknowledgement.

The updates are made beforehand (real Yjs typing, each writer appending a marker to the text
after seeing everyone's earlier updates), so every run sends the same bytes. Writers send in a
closed loop: each frame once the previous one of that socket was handled (a socket's frames
are handled one after another, as the serving loop does).

Cases: ``one``: one document, ``--clients`` clients of which ``--writers`` write; ``many``:
``--docs`` documents with one writing client each. Printed: updates, CPU seconds of the
measured phase (``time.process_time``), CPU µs per update, frames and bytes delivered.

Under ``valgrind --tool=callgrind --instr-atstart=no`` the measured phase alone is
instrumented (the script turns instrumentation on and off with ``callgrind_control``), so the
output file's total is the instructions of N updates:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        python -m bench.collab.workload --case one --updates 2000
    callgrind_annotate /tmp/cg.out | head

``--profile FILE`` writes a cProfile of the measured phase (CPU time of the event loop's thread).

Usage: python -m bench.collab.workload [--case one|many] [--updates 2000] [--clients 10]
                                       [--writers 10] [--docs 100] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Any

import httpx
from pycrdt import Doc, Text

from mdreader.collab import protocol as p
from mdreader.collab.connection import ClientSocket
from mdreader.collab.encoding import var_bytes, var_string, var_uint
from mdreader.ytext import TEXT_NAME

PASSWORD = "Bench-pass-1"


class CountingTransport:
    """A transport that keeps nothing: it counts the frames and bytes it was given."""

    def __init__(self) -> None:
        self.last_sent = time.monotonic()
        self.frames = 0
        self.bytes = 0
        self.closed: tuple[int, str] | None = None

    def send(self, data: bytes) -> None:
        self.last_sent = time.monotonic()
        self.frames += 1
        self.bytes += len(data)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def make_updates(writers: int, count: int) -> list[list[bytes]]:
    """``count`` typing updates per writer: each appends ``§<n>~<writer>§`` once it has seen
    every update made before it (as a client that receives its co-editors' typing would)."""
    docs = [Doc() for _ in range(writers)]
    texts = [d.get(TEXT_NAME, type=Text) for d in docs]
    made: list[list[bytes]] = [[] for _ in range(writers)]
    for n in range(count):
        for w, (doc, text) in enumerate(zip(docs, texts, strict=True)):
            before = doc.get_state()
            text += f"§{n}.{w}~{w}§"
            update = doc.get_update(before)
            made[w].append(update)
            for other in docs:
                if other is not doc:
                    other.apply_update(update)
    return made


def update_frame(name: str, update: bytes) -> bytes:
    return var_string(name) + var_uint(p.MessageType.SYNC) + var_uint(p.SyncType.UPDATE) + var_bytes(update)


def auth_frame(name: str, token: str) -> bytes:
    return (
        var_string(name)
        + var_uint(p.MessageType.AUTH)
        + var_uint(p.AuthType.TOKEN)
        + var_string(token)
        + var_string("workload")
    )


def step1_frame(name: str) -> bytes:
    return var_string(name) + p.sync_step1(b"\x00")


async def prepare(client: httpx.AsyncClient, docs: int) -> tuple[str, list[str]]:
    await client.post(
        "/api/auth/register",
        json={"email": "bench@example.com", "password": PASSWORD, "name": "Bench"},
    )
    token = (
        await client.post(
            "/api/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        )
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    ws = (await client.post("/api/workspaces", json={"name": "Bench"}, headers=h)).json()
    ids = []
    for i in range(docs):
        r = await client.post(
            f"/api/workspaces/{ws['id']}/documents",
            json={"title": f"Doc {i}", "content": "# Bench\n"},
            headers=h,
        )
        r.raise_for_status()
        ids.append(r.json()["id"])
    return token, ids


def _callgrind(state: str) -> None:
    """Turn callgrind's instrumentation on or off for this process (no-op outside it)."""
    if shutil.which("callgrind_control") and os.environ.get("WORKLOAD_CALLGRIND"):
        subprocess.run(
            ["callgrind_control", "-i", state, str(os.getpid())],
            check=True,
            stdout=subprocess.DEVNULL,
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from mdreader.app import create_app
    from mdreader.db import migrate
    from mdreader.settings import Settings

    if args.case == "one":
        docs, clients, writers = 1, args.clients, args.writers
    else:
        docs, clients, writers = args.docs, 1, 1
    per_writer = max(1, args.updates // (docs * writers))
    # One more update per writer, sent before the measured phase (below).
    streams = [make_updates(writers, per_writer + 1) for _ in range(docs)]
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=data,
            secret_key="workload-secret-" + "x" * 64,
            log_level="WARNING",
            rate_limit_requests=1_000_000_000,
            _env_file=None,  # type: ignore[call-arg]
        )
        migrate(settings.resolved_database_url)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
                token, ids = await prepare(client, docs)
            server = app.state.services.collab
            sockets: list[list[tuple[ClientSocket, CountingTransport]]] = []
            for name in ids:
                opened = []
                for _ in range(clients):
                    t = CountingTransport()
                    sock = ClientSocket(server, t)
                    server.open_socket(sock)
                    await sock.handle(auth_frame(name, token))
                    await sock.handle(step1_frame(name))
                    opened.append((sock, t))
                sockets.append(opened)
            for opened in sockets:
                for _, t in opened:
                    t.frames = t.bytes = 0
            frames = [
                [(opened[w][0], [update_frame(name, u) for u in stream[w]]) for w in range(writers)]
                for name, opened, stream in zip(ids, sockets, streams, strict=True)
            ]
            # Each writer's first update goes before the measured phase: what happens once
            # (the first commit's connection and compiled statement) is not counted.
            for doc in frames:
                for sock, own in doc:
                    await sock.handle(own.pop(0))
            await asyncio.sleep(0)
            for opened in sockets:
                for _, t in opened:
                    t.frames = t.bytes = 0

            async def write(sock: ClientSocket, own: list[bytes]) -> None:
                for frame in own:
                    await sock.handle(frame)

            profiler = cProfile.Profile(time.thread_time) if args.profile else None
            _callgrind("on")
            if profiler:
                profiler.enable()
            cpu, wall = time.process_time(), time.monotonic()
            await asyncio.gather(*(write(s, f) for doc in frames for s, f in doc))
            # The last relays go out on the next loop iteration.
            await asyncio.sleep(0)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            _callgrind("off")
            updates = docs * writers * per_writer
            delivered = sum(t.frames for opened in sockets for _, t in opened)
            for opened in sockets:
                for sock, _ in opened:
                    await server.close_socket(sock)
            return {
                "case": args.case,
                "updates": updates,
                "cpu_s": round(cpu, 3),
                "wall_s": round(wall, 3),
                "cpu_us_per_update": round(cpu * 1e6 / updates, 1),
                "frames_out": delivered,
                "bytes_out": sum(t.bytes for opened in sockets for _, t in opened),
                "run": uuid.uuid4().hex[:6],
            }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=("one", "many"), default="one")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    print(runner(run(args)))


if __name__ == "__main__":
    main()
