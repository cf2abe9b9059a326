"""Change stamps: a number that moves whenever anyone commits a change to the database.

A response cached together with the stamp of the moment it was read is still exact as long
as the stamp has not moved (api/hot.py). The stamp must see every writer: this process, the
other workers, the CLI, other instances.

- SQLite: ``PRAGMA data_version`` on a connection of its own that never writes: it changes
  when any other connection commits. A read of the WAL index, about 3 µs, no lock waited for.
- PostgreSQL: ``pg_current_wal_insert_lsn()``, the position where the next WAL record goes;
  every commit writes one. One query answers every request that arrived before it was sent
  (requests arriving meanwhile share the next one), so under load the cost per request is a
  fraction of a round trip.

A stamp of None means "unknown right now" (busy, disconnected): nothing is cached then.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("mdreader.db")


class ChangeStamp(ABC):
    @abstractmethod
    async def read(self) -> int | None:
        """The current stamp, taken after the call began; None when it cannot be known."""

    @abstractmethod
    async def close(self) -> None: ...


class SqliteStamp(ChangeStamp):
    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Used from the event loop's thread only. timeout=0: a busy moment answers None at
        # once instead of blocking the loop.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=0, isolation_level=None, check_same_thread=False
        )

    async def read(self) -> int | None:
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:  # WAL recovery under way, for a moment
            return None
        return int(row[0])

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresStamp(ChangeStamp):
    RETRY_SECONDS = 1.0

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._conn: Any = None
        self._next: asyncio.Future[int | None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failed_at = 0.0
        self._closed = False

    async def read(self) -> int | None:
        if self._closed or time.monotonic() - self._failed_at < self.RETRY_SECONDS:
            return None
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiter = self._next
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="mdreader-change-stamp")
        return await asyncio.shield(waiter)

    async def _run(self) -> None:
        # Every waiter of a round arrived before its query was sent: the answer is fresh
        # for all of them.
        while self._next is not None:
            waiter, self._next = self._next, None
            try:
                value = await self._query()
            except Exception:  # never leave a waiter hanging
                log.exception("change stamp query failed")
                value = None
            waiter.set_result(value)

    async def _query(self) -> int | None:
        import asyncpg

        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=5)
            lsn: str = await self._conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("change stamp unavailable; nothing is cached for now", exc_info=True)
            self._failed_at = time.monotonic()
            await self._drop()
            return None
        high, _, low = lsn.partition("/")
        return (int(high, 16) << 32) | int(low, 16)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            await self._runner  # its last round; it catches its own errors
        await self._drop()


def open_stamp(url: str) -> ChangeStamp | None:
    """The stamp of the primary database at ``url``; None where there is none. (Answers to
    be cached are read from the primary, never from a replica: see api/deps.py.)"""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return SqliteStamp(parsed.database)
    if backend == "postgresql" and parsed.get_driver_name() == "asyncpg":
        return PostgresStamp(url)
    return None
