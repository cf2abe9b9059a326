"""Engines and sessions: a primary for writes and an optional read replica for reads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool, StaticPool

from mdreader.db.stamps import SqliteStamp, Stamp, open_stamp
from mdreader.errors import AppError

log = logging.getLogger("mdreader.db")


def _is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str | URL) -> str | None:
    """The file of an SQLite database URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def _create_engine(url: str | URL, *, write: bool, pool_size: int, echo: bool) -> AsyncEngine:
    if _is_sqlite(url):
        parsed = make_url(url)
        if parsed.get_driver_name() == "aiosqlite":
            # The same driver, one thread hop per statement (see sqlite_driver).
            import mdreader.db.sqlite_driver  # noqa: F401  (registers the dialect)

            url = parsed.set(drivername="sqlite+mdreader")
        database = _sqlite_file(url)
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

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's implicit one.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if write:

            @event.listens_for(engine.sync_engine, "begin")
            def _begin(conn: Any) -> None:
                # Writers take the write lock up front: a deferred transaction that later
                # upgrades fails at once with SQLITE_BUSY instead of waiting its turn.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

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
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _create_engine(url, write=True, pool_size=pool_size, echo=echo)
        # Reads that must see the latest writes (sessions, memberships) go to the primary; on
        # SQLite through a second engine, since readers must not take the write lock.
        # On PostgreSQL the same pool serves them, in autocommit mode.
        self.primary_read_engine = (
            _create_engine(url, write=False, pool_size=pool_size, echo=echo)
            if _is_sqlite(url)
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
        self._write_turn = asyncio.Lock() if _is_sqlite(url) else None
        # On SQLite, two connections of the event loop's own (never a thread hop): the change
        # stamp's, and the guards' (read_row). Both come after the engines, which made the
        # database's folder.
        database = _sqlite_file(url)
        self._stamp = SqliteStamp(database) if database else open_stamp(url)
        self._inline = _inline_engine(database) if database else None
        if credentials is not None and not database:
            reread_on_auth_failure(self.engine, "primary", credentials)
            if read_url:
                reread_on_auth_failure(self.read_engine, "read", credentials)
            stamp_engine = getattr(self._stamp, "_engine", None)
            if stamp_engine is not None:
                reread_on_auth_failure(stamp_engine, "primary", credentials)

    async def change_stamp(self) -> Stamp | None:
        """A number that changes whenever anyone commits a change to the primary (see
        db/stamps.py); None when there is no such signal right now, or none at all
        (in-memory SQLite): then nothing may be cached against it."""
        return None if self._stamp is None else await self._stamp.read()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on error."""
        async with self._turn(), self._session() as session:
            yield session

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction without the ORM (no session, no after-commit callbacks):
        for hot paths that only insert, such as the collaboration update log."""
        async with self._turn(), self.engine.begin() as conn:
            yield conn

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
        """The first row of a small indexed read that must see every commit (the guards).

        On SQLite it runs at once on the event loop's thread over a connection of its own: a
        primary-key lookup in SQLite's page cache costs a few microseconds, far less than a
        trip to a driver thread and back, and WAL readers never wait for writers. Elsewhere,
        or should SQLite be busy for a moment, it goes through the primary's read pool."""
        if self._inline is not None:
            try:
                with self._inline.connect() as conn:
                    return conn.execute(statement, params).first()
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
        for engine in {self.engine, self.primary_read_engine, self.read_engine}:
            await engine.dispose()


def _inline_engine(database: str) -> Engine:
    engine = create_engine(
        f"sqlite:///{database}",
        poolclass=StaticPool,  # one connection, used only from the event loop's thread
        isolation_level="AUTOCOMMIT",
        connect_args={"check_same_thread": False, "timeout": 0},
    )

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=1")

    return engine


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


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def _alembic_config(url: str, script_location: Path | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or migrations_dir()))
    cfg.attributes["database_url"] = url
    return cfg


def _off_the_loop(run: Callable[[], Any]) -> Any:
    """Run ``run`` here, or in a thread when called from inside an event loop (tests, the
    app): Alembic's env runs its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    results: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(run())
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def migrate(url: str, revision: str = "head", *, script_location: Path | None = None) -> Any:
    """Bring the database at ``url`` to ``revision`` (Alembic), creating it if needed, under
    the migration lock. A database at a newer revision marked compatible is left as it is;
    one at a newer incompatible revision raises ``schema.SchemaError``. Returns the verdict
    found before migrating (``mdreader.db.schema.Verdict``)."""
    from alembic import command

    from mdreader.db import schema

    cfg = _alembic_config(url, script_location)
    database = _sqlite_file(url) if _is_sqlite(url) else None
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    def run() -> Any:
        with schema.file_lock(database):
            command.upgrade(cfg, revision)
        return cfg.attributes.get("verdict")

    return _off_the_loop(run)


def schema_verdict(url: str, *, script_location: Path | None = None) -> Any:
    """How the database's schema stands to this release, without changing anything."""
    from alembic.script import ScriptDirectory

    from mdreader.db import schema

    cfg = _alembic_config(url, script_location)
    script = ScriptDirectory.from_config(cfg)

    async def check() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: schema.verdict(sync, script))
        finally:
            await engine.dispose()

    return _off_the_loop(lambda: asyncio.run(check()))
