"""A real MDReader server in a subprocess, for the collaboration and web end-to-end tests and
the web benchmark: settings from the environment, the database migrated, a socket bound to
port 0 (or ``MDREADER_TEST_PORT``, to come back on the same port after a kill), ``READY
<port>`` on stdout once it listens. It exits when the process that started it is gone.

With ``MDREADER_TEST_LOOP_WATCH=FILE`` it also watches its event loop (the stall tests read
it): every stretch in which the loop's thread ran more than 20 ms of CPU between two ticks of
a 10 ms timer is written to FILE as ``<monotonic end> <CPU seconds> <wall seconds>``."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import TextIO

import uvicorn

from mdreader import serving
from mdreader.app import create_app
from mdreader.db import migrate
from mdreader.settings import Settings
from support.passwords import cheap_hashing


def exit_with_parent() -> None:
    """Stop when the test run that started this server is gone (killed without teardown)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


# Stretches of the loop's own CPU time shorter than this are not written down.
WATCH_THRESHOLD = 0.02


async def watch_loop(out: TextIO) -> None:
    """Tick every 10 ms and note each stretch in which this thread (the event loop's) ran
    more than WATCH_THRESHOLD of CPU between two ticks: work that holds the loop. CPU time of
    this thread, unlike wall time, does not grow when a loaded machine leaves the process
    waiting for a core, so a long stretch means the loop itself was kept busy."""
    wall, cpu = time.monotonic(), time.thread_time()
    while True:
        await asyncio.sleep(0.01)
        now_wall, now_cpu = time.monotonic(), time.thread_time()
        if now_cpu - cpu > WATCH_THRESHOLD:
            out.write(f"{now_wall:.6f} {now_cpu - cpu:.6f} {now_wall - wall:.6f}\n")
        wall, cpu = now_wall, now_cpu


def main() -> None:
    exit_with_parent()
    cheap_hashing()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("MDREADER_TEST_PORT", "0"))))
    # MDREADER_TEST_PUBLIC_URL=http://127.0.0.1:{port}: the public URL is this server's own
    # address (single sign-on redirects come back to it), known once the socket is bound.
    template = os.environ.get("MDREADER_TEST_PUBLIC_URL")
    if template:
        os.environ["MDREADER_PUBLIC_URL"] = template.format(port=sock.getsockname()[1])
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    config = serving.config(app, settings)
    server = uvicorn.Server(config)
    watch = os.environ.get("MDREADER_TEST_LOOP_WATCH")
    # Line-buffered: each stretch is in the file as soon as it is noted.
    watch_file = open(watch, "a", buffering=1) if watch else None  # noqa: SIM115

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        watcher = asyncio.create_task(watch_loop(watch_file)) if watch_file else None
        print(f"READY {sock.getsockname()[1]}", flush=True)
        await task
        if watcher is not None:
            watcher.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
