"""Engines and sessions: a primary for writes and an optional read replica for reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Executable, Row, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from mdreader.errors import AppError

log = logging.getLogger("mdreader.db")


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> str | None:
    """The file of an SQLite database URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's implicit one.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _begin_immediate(conn: Any) -> None:
    # Writers take the write lock up front: a deferred transaction that later upgrades
    # fails at once with SQLITE_BUSY instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class _SqliteBulkWriter:
    """Insert-only transactions on SQLite, each run whole in one call on a thread of its own.

    Through the async driver a transaction is four round trips to the driver's thread
    (BEGIN, the statement, COMMIT, and the pool's reset on return), each a future, a thread
    hand-over and a greenlet switch; for the collaboration update log, whose group commits
    are small and many, those trips cost more than the inserts. Here the whole transaction
    is one function on one thread: one hand-over. The caller holds the process's write
    turn, as every SQLite writer of the process does."""

    def __init__(self, database: str) -> None:
        self._engine = create_engine(
            f"sqlite:///{database}",
            poolclass=StaticPool,  # one connection, used only from the thread below
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        event.listen(self._engine, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdreader-bulk")

    def _insert(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        with self._engine.begin() as conn:
            conn.execute(statement, rows)

    async def insert(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._insert, statement, rows)

    def dispose(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()


def _create_engine(url: str | URL, *, write: bool, pool_size: int, echo: bool) -> AsyncEngine:
    if is_sqlite(url):
        database = sqlite_file(url)
        if database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
            # Readers run each statement in its own implicit transaction (WAL readers never
            # block), so there is nothing to roll back when a connection returns to the pool:
            # every skipped BEGIN/ROLLBACK is a round trip to the driver's thread saved.
            **({} if write else {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}),
        )

        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if write:
            event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        # Up to twice MDREADER_DB_POOL_SIZE, all kept once opened. (Overflow connections
        # would be closed as soon as they are returned: under steady load above the pool
        # size, that meant a new connection, TLS negotiation included, for most requests.)
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
    )
    _ping_when_idle(engine)
    # Reads need no transaction of their own: no BEGIN and no ROLLBACK round trips.
    return engine if write else engine.execution_options(isolation_level="AUTOCOMMIT")


IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Test a pooled connection before use only when it sat idle for a while.

    ``pool_pre_ping`` pings on every checkout, and asyncpg's ping is three round trips
    (BEGIN, a query, COMMIT): on a busy server that tripled the trips of a simple read. A
    connection in steady use has just proved itself; one that idled may have been cut (a
    failover, an idle timeout), and is then replaced before anyone sees an error."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool drops this connection and checks out (or opens) another.
            raise DisconnectionError() from exc


WRITE_TURN_TIMEOUT = 30.0  # seconds, as SQLite's busy_timeout


# (role: "primary" or "read") -> the (user, password) the secrets hold now, or None.
Credentials = Callable[[str], "tuple[str, str] | None"]

# PostgreSQL's SQLSTATEs for a refused login: invalid_password, invalid_authorization_spec.
AUTH_FAILURES = {"28P01", "28000"}


def _auth_failure(exc: BaseException) -> bool:
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        if getattr(candidate, "sqlstate", None) in AUTH_FAILURES:
            return True
    return False


def reread_on_auth_failure(engine: AsyncEngine, role: str, credentials: Credentials) -> None:
    """When the database refuses a new connection's password (it was rotated), ask
    ``credentials`` for what the secret holds now and connect again with that; later
    connections use it from the start."""
    current: dict[str, str] = {}

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cparams.update(current)
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if not _auth_failure(exc):
                raise
            fresh = credentials(role)
            if fresh is None or fresh == (cparams.get("user"), cparams.get("password")):
                raise
            current.update(user=fresh[0], password=fresh[1])
            cparams.update(current)
            log.warning("the database refused the %s password; connecting with the secret's", role)
            return dialect.connect(*cargs, **cparams)


class ChangeSignal(Protocol):
    """What moves whenever anyone commits (mdreader.fast.stamps)."""

    async def read(self) -> int | str | None: ...

    async def close(self) -> None: ...


class RowReader(Protocol):
    """Small reads off the pool (mdreader.fast.inline); OperationalError when busy."""

    def first(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None: ...

    def dispose(self) -> None: ...


class DatabaseBusy(AppError):
    """No write turn within WRITE_TURN_TIMEOUT: the database is overloaded."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "The database is busy; try again in a moment.",
            "busy",
            headers={"Retry-After": "5"},
        )


class Database:
    """The primary (writes) and the read side (a replica, or the primary again)."""

    def __init__(
        self,
        url: str,
        read_url: str | None = None,
        *,
        pool_size: int = 20,
        echo: bool = False,
        credentials: Credentials | None = None,
        stamp: ChangeSignal | None = None,
        inline: RowReader | None = None,
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _create_engine(url, write=True, pool_size=pool_size, echo=echo)
        # Reads that must see the latest writes (sessions, memberships) go to the primary; on
        # SQLite through a second engine, since readers must not take the write lock.
        # On PostgreSQL the same pool serves them, in autocommit mode.
        self.primary_read_engine = (
            _create_engine(url, write=False, pool_size=pool_size, echo=echo)
            if is_sqlite(url)
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.read_engine = (
            _create_engine(read_url, write=False, pool_size=pool_size, echo=echo)
            if read_url
            else self.primary_read_engine
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.primary_read_sessionmaker = async_sessionmaker(
            self.primary_read_engine, expire_on_commit=False
        )
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite has one writer at a time. Writers of this process queue here in order instead
        # of polling the file lock (busy_timeout), which starves some of them for seconds;
        # other processes (the CLI) still meet at the file lock.
        self._write_turn = asyncio.Lock() if is_sqlite(url) else None
        database = sqlite_file(url)
        self._bulk = _SqliteBulkWriter(database) if database else None
        # The fast paths' parts (mdreader.fast), when given: the change stamp, and the
        # guards' reads on the event loop's own thread.
        self._stamp = stamp
        self._inline = inline
        if credentials is not None and not sqlite_file(url):
            reread_on_auth_failure(self.engine, "primary", credentials)
            if read_url:
                reread_on_auth_failure(self.read_engine, "read", credentials)

    async def change_stamp(self) -> int | str | None:
        """A number that changes whenever anyone commits a change to the primary (see
        fast/stamps.py); None when there is no such signal right now, or none at all
        (no stamp given, in-memory SQLite): then nothing may be cached against it."""
        return None if self._stamp is None else await self._stamp.read()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on error."""
        async with self._turn(), self._session() as session:
            yield session

    async def insert_many(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        """One write transaction that only runs ``statement`` over ``rows`` (executemany),
        without the ORM (no session, no after-commit callbacks): for hot paths that only
        insert, such as the collaboration update log. On an SQLite file it runs whole on a
        thread of its own (``_SqliteBulkWriter``: one hand-over instead of four)."""
        async with self._turn():
            if self._bulk is not None:
                await self._bulk.insert(statement, rows)
                return
            async with self.engine.begin() as conn:
                await conn.execute(statement, rows)

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """SQLite's single write turn of this process (module doc); nothing on PostgreSQL."""
        if self._write_turn is None:
            yield
            return
        try:
            async with asyncio.timeout(WRITE_TURN_TIMEOUT):
                await self._write_turn.acquire()
        except TimeoutError:
            raise DatabaseBusy() from None
        try:
            yield
        finally:
            self._write_turn.release()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            await run_after_commit(session)

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """Reads that may lag a little: served by the replica when there is one."""
        async with self.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def primary_read_session(self) -> AsyncIterator[AsyncSession]:
        """Reads that must see every committed write (authentication, authorization)."""
        async with self.primary_read_sessionmaker() as session:
            yield session

    async def read_row(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """The first row of a small indexed read that must see every commit (the guards):
        through ``inline`` when there is one (fast/inline.py: SQLite, on the event loop's
        thread), or should that be busy for a moment, through the primary's read pool."""
        if self._inline is not None:
            try:
                return self._inline.first(statement, params)
            except OperationalError:
                pass
        async with self.primary_read_session() as session:
            return (await session.execute(statement, params)).first()

    async def ping(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._stamp is not None:
            await self._stamp.close()
            self._stamp = None
        if self._inline is not None:
            self._inline.dispose()
            self._inline = None
        if self._bulk is not None:
            self._bulk.dispose()
            self._bulk = None
        for engine in {self.engine, self.primary_read_engine, self.read_engine}:
            await engine.dispose()


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` once the session's transaction has committed (cache invalidation)."""
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    """Run them all. The transaction is committed: a callback that fails (a cache or a bus
    out of reach) is logged, and must not turn a stored write into an error that invites the
    caller to send it again."""
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after-commit step failed; the transaction itself is committed")
