"""What benchmark runs share: a scratch PostgreSQL database (created empty, dropped
afterwards), the environment of a benchmarked server, and starting that server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]


async def pg_admin(url: str, sql: str) -> None:
    """Run one statement on the PostgreSQL server at ``url`` outside a transaction (CREATE /
    DROP DATABASE)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server ``admin_url`` points at."""
    name = f"mdreader_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def server_env(data_dir: str) -> dict[str, str]:
    """The environment of an MDReader server under a benchmark: no MDREADER_ settings from
    the caller, a scratch data dir, quiet logs, and no per-IP limit (one load generator is one
    address; the limit would answer 429)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env.update(
        {
            "MDREADER_DATA_DIR": data_dir,
            "MDREADER_LOG_LEVEL": "WARNING",
            "MDREADER_RATE_LIMIT_REQUESTS": "1000000000",
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    target: str, port: int, env: dict[str, str], factory: bool, extra: Sequence[str] = ()
) -> subprocess.Popen:
    """uvicorn serving ``target`` on ``port``, once it answers (one worker, quiet)."""
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--no-proxy-headers",
    ]
    if factory:
        args.append("--factory")
    args += extra
    return start_command(args, port, env, target)


def start_command(
    args: Sequence[str], port: int, env: dict[str, str], what: str
) -> subprocess.Popen:
    """Run ``args`` (a server on ``port``) and return once it answers HTTP."""
    # stdout: the console mailer prints the bench user's sign-up e-mail there.
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # answered, if only with a 404 (the references have no /health)
        except OSError:
            time.sleep(0.2)
        except Exception:
            return proc  # answered (the bare app answers every path)
    proc.kill()
    raise RuntimeError(f"{what} did not start")
