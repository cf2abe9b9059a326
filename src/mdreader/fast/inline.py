"""Guard reads on the event loop's own thread (SQLite only).

The guards' reads are small indexed lookups that must see every commit
(``mdreader.access.roles``). On SQLite one costs a few microseconds in the page cache, far
less than a trip to a driver thread and back; WAL readers never wait for writers. So they
run at once, over a read-only connection of their own. When SQLite is busy for a moment the
read raises ``OperationalError`` and ``Database.read_row`` asks the primary's pool instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.pool import StaticPool


class InlineReads:
    """``Database.read_row``'s fast side: one connection, used only from the event loop."""

    def __init__(self, database: str) -> None:
        self._engine: Engine | None = create_engine(
            f"sqlite:///{database}",
            poolclass=StaticPool,  # one connection, used only from the event loop's thread
            isolation_level="AUTOCOMMIT",
            connect_args={"check_same_thread": False, "timeout": 0},
        )

        @event.listens_for(self._engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only=1")

    def first(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        assert self._engine is not None
        with self._engine.connect() as conn:
            return conn.execute(statement, params).first()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
