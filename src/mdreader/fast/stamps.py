"""Change stamps: a number that moves whenever anyone commits a change to the database.

A response cached together with the stamp of the moment it was read is still exact as long
as the stamp has not moved (fast/documents.py). The stamp must see every writer: this process, the
other workers, the CLI, other instances.

- SQLite: ``PRAGMA data_version`` on a connection of its own that never writes: it changes
  when any other connection commits. A read of the WAL index, about 3 µs, no lock waited for.
- PostgreSQL: the WAL insert position with the transaction snapshot (see PostgresStamp).
  One query answers every request that arrived before it was sent (requests arriving
  meanwhile share the next one), so under load the cost per request is a fraction of a round
  trip.

A stamp of None means "unknown right now" (busy, disconnected): nothing is cached then.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("mdreader.db")


Stamp = int | str  # compared for equality only


class ChangeStamp(ABC):
    @abstractmethod
    async def read(self) -> Stamp | None:
        """The current stamp, taken after the call began; None when it cannot be known."""

    @abstractmethod
    async def close(self) -> None: ...


class SqliteStamp(ChangeStamp):
    def __init__(self, path: str) -> None:
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
    """The WAL insert position and the transaction snapshot, read in one statement.

    The position moves when any transaction writes its commit record; the snapshot (next
    transaction id, those still running) moves when that commit becomes visible, which may
    be later (waiting for the WAL flush or a synchronous standby). Either alone could let a
    read taken in between be cached as current. The connection's generation is part of the
    stamp, so that nothing cached before a reconnect (a failover) is trusted after it.

    A dedicated one-connection engine from the same URL (same TLS and connect options as the
    application's). A query that does not answer within QUERY_SECONDS drops the connection
    and answers None, so a cut connection never holds up the requests waiting for it.
    """

    QUERY = "SELECT pg_current_wal_insert_lsn()::text || ' ' || pg_current_snapshot()::text"
    QUERY_SECONDS = 1.0
    RETRY_SECONDS = 1.0

    def __init__(self, url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        self._engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Any = None
        self._generation = 0
        self._next: asyncio.Future[str | None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failed_at = float("-inf")
        self._closed = False

    @property
    def engine(self) -> Any:
        """Its own engine (one connection), for the password re-read after a rotation."""
        return self._engine

    async def read(self) -> str | None:
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

    async def _query(self) -> str | None:
        try:
            async with asyncio.timeout(self.QUERY_SECONDS):
                if self._conn is None:
                    self._conn = await self._engine.connect()
                    self._generation += 1
                value = (await self._conn.exec_driver_sql(self.QUERY)).scalar_one()
        except Exception:
            log.warning("change stamp unavailable; nothing is cached for now", exc_info=True)
            self._failed_at = time.monotonic()
            await self._drop()
            return None
        return f"{self._generation} {value}"

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            async with asyncio.timeout(2):
                await conn.invalidate()
        except Exception:
            log.debug("change stamp connection dropped uncleanly", exc_info=True)

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            try:
                async with asyncio.timeout(self.QUERY_SECONDS + 1):
                    await self._runner  # its last round; it catches its own errors
            except TimeoutError:
                self._runner.cancel()
        await self._drop()
        await self._engine.dispose()


def open_stamp(url: str) -> ChangeStamp | None:
    """The stamp of a primary database other than an SQLite file (that one is
    ``SqliteStamp``); None where there is none. (Answers to be cached are read from the
    primary, never from a replica: see api/deps.py.)"""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "asyncpg":
        return PostgresStamp(url)
    return None
