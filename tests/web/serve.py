"""A real MDReader server for the web app's end-to-end tests and benchmark: settings from the
environment (a fresh data dir, the built web app), a socket bound to port 0, ``READY <port>``
on stdout once it listens. E-mails go to stderr (the console mailer)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import uvicorn

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
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    migrate(settings.resolved_database_url)
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    max_message = getattr(settings, "collab_max_message_bytes", 4 * 1024 * 1024)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ws_max_size=max_message + 1024,
    )
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
