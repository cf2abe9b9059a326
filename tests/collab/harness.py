"""Helpers for the collaboration tests: real Node clients, servers on port 0, retries."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn

from mdreader import serving

NODE_DIR = Path(__file__).resolve().parent / "node"
# Seconds a server a test starts (a subprocess, or uvicorn in the test's loop) has to be ready.
# It is waited for by its readiness (its READY line, /health), so the bound matters only when
# it never comes: generous, for a loaded two-core machine (imports, migrations).
SERVER_START_WITHIN = 180.0
ROOT = Path(__file__).resolve().parents[2]


def npm_ci(folder: Path, timeout: float = 300) -> str | None:
    """Install ``folder``'s Node packages from its lock file (npm ci) when they are missing or
    older than the lock; return an error sentence when that cannot be done."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return f"node and npm are needed to install {folder.name}"
    marker = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            return f"npm ci failed: {result.stderr[-2000:]}"
    return None


def ensure_node_modules() -> str | None:
    """The collaboration tests' Node clients, installed."""
    return npm_ci(NODE_DIR)


class NodeClients:
    """One Node process holding many Yjs clients, driven over JSON lines."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.stderr: list[str] = []

    async def start(self) -> NodeClients:
        self.proc = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_DIR / "driver.mjs"),
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        self._reader = asyncio.create_task(self._read())
        self._err = asyncio.create_task(self._read_err())
        return self

    async def _read(self) -> None:
        assert self.proc and self.proc.stdout
        async for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            fut = self._waiting.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(
                    RuntimeError("the Node driver exited: " + "".join(self.stderr[-20:]))
                )

    async def _read_err(self) -> None:
        assert self.proc and self.proc.stderr
        async for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    async def call(self, op: str, within: float = 30, **args: Any) -> dict[str, Any]:
        assert self.proc and self.proc.stdin
        ident = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = fut
        self.proc.stdin.write((json.dumps({"id": ident, "op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        msg = await asyncio.wait_for(fut, within)
        if not msg.get("ok"):
            raise AssertionError(f"{op} failed: {msg.get('error')}")
        return msg

    async def open(self, cid: str, base: str, doc: str, token: str | None, **kw: Any) -> None:
        await self.call("open", cid=cid, url=f"{ws_url(base)}/ws", doc=doc, token=token, **kw)

    async def open_yws(self, cid: str, base: str, doc: str, token: str | None) -> None:
        await self.call(
            "open", cid=cid, kind="yws", url=f"{ws_url(base)}/ws/y", doc=doc, token=token
        )

    async def state(self, cid: str) -> dict[str, Any]:
        return await self.call("state", cid=cid)

    async def wait(
        self, cid: str, until: str, value: Any = None, within: float = 20
    ) -> dict[str, Any]:
        return await self.call(
            "wait", within=within + 5, cid=cid, until=until, value=value, timeout=int(within * 1000)
        )

    async def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            assert self.proc.stdin
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        for task in (self._reader, self._err):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://")


class InProcessServer:
    """uvicorn serving an already started app on 127.0.0.1, port 0, in this event loop."""

    def __init__(self, app: Any, stock: bool = False) -> None:
        # As `mdreader serve` runs it (its protocols and limits), on a port of its own; or,
        # ``stock``, with uvicorn's own protocols (no frame channel: frames go through ASGI).
        if stock:
            self.config = uvicorn.Config(
                app, host="127.0.0.1", port=0, lifespan="off", ws="websockets-sansio"
            )
        else:
            self.config = serving.config(
                app, app.state.settings, host="127.0.0.1", port=0, lifespan="off"
            )
        self.server = uvicorn.Server(self.config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.task: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def __aenter__(self) -> InProcessServer:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        await eventually(lambda: _started(self.server), within=SERVER_START_WITHIN)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        if self.task:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 10)
        self.sock.close()


async def _started(server: uvicorn.Server) -> None:
    assert server.started


class ServerProcess:
    """``python -m tests.serve`` in a subprocess: a real server to kill -9."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.log: list[str] = []
        self._drainer: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ServerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.serve",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.proc.stdout
        async with asyncio.timeout(SERVER_START_WITHIN):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError("the server exited:\n" + "".join(self.log[-50:]))
                line = raw.decode(errors="replace")
                self.log.append(line)
                if line.startswith("READY "):
                    self.port = int(line.split()[1])
                    break
        self._drainer = asyncio.create_task(self._drain())
        return self

    async def _drain(self) -> None:
        assert self.proc and self.proc.stdout
        async for raw in self.proc.stdout:
            self.log.append(raw.decode(errors="replace"))

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        await self._stop_drain()

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()
        await self._stop_drain()

    async def _stop_drain(self) -> None:
        if self._drainer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self._drainer
            self._drainer = None


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 10, interval: float = 0.02
) -> Any:
    """Retry ``check`` until it stops raising AssertionError (or time runs out)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)


def server_env(settings: Any, **extra: str) -> dict[str, str]:
    """Environment for a server subprocess sharing the test's database, Redis and key."""
    env = {
        "MDREADER_DATABASE_URL": settings.resolved_database_url,
        "MDREADER_SECRET_KEY": settings.resolved_secret_key,
        "MDREADER_DATA_DIR": str(settings.data_dir),
        "MDREADER_ENVIRONMENT": "test",
        "MDREADER_LOG_JSON": "false",
        "MDREADER_LOG_LEVEL": "WARNING",
        "MDREADER_WEB_DIST": str(settings.data_dir / "no-web"),
    }
    if settings.redis_url:
        env["MDREADER_REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env
