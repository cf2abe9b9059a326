"""What benchmark runs share: a scratch PostgreSQL database (created empty, dropped
afterwards) and the environment of a benchmarked server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def _admin(url: str, sql: str) -> None:
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
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
