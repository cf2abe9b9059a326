"""A real MDReader server in a subprocess, for the collaboration and web end-to-end tests and
the web benchmark: settings from the environment, the database migrated, a socket bound to
port 0 (or ``MDREADER_TEST_PORT``, to come back on the same port after a kill), ``READY
<port>`` on stdout once it listens. It exits when the process that started it is gone."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import uvicorn

from mdreader import serving
from mdreader.app import create_app
from mdreader.db import migrate
from mdreader.settings import Settings


def exit_with_parent() -> None:
    """Stop when the test run that started this server is gone (killed without teardown)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    exit_with_parent()
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

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        print(f"READY {sock.getsockname()[1]}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
