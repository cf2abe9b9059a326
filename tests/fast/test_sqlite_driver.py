"""The one-hop SQLite dialect behaves like SQLAlchemy's aiosqlite one where it matters."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mdreader.db.engine import Database
from mdreader.fast.sqlite_driver import SQLITE_DRIVER


@pytest.fixture
async def db(tmp_path):
    database = Database(
        f"sqlite+aiosqlite:///{tmp_path}/driver.db", pool_size=2, sqlite_driver=SQLITE_DRIVER
    )
    async with database.session() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield database
    await database.dispose()


async def test_dialect_is_swapped_in(db):
    assert db.engine.dialect.driver == "mdreader"
    assert db.primary_read_engine.dialect.driver == "mdreader"


async def test_rows_rowcount_lastrowid_and_executemany(db):
    async with db.session() as s:
        conn = await s.connection()
        result = await conn.exec_driver_sql("INSERT INTO t (v) VALUES ('a')")
        assert result.lastrowid == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert updated.rowcount == 2
    async with db.read_session() as s:
        rows = (await s.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert rows == [(1, "a"), (2, "b!"), (3, "c!")]
        partial = await s.execute(text("SELECT v FROM t ORDER BY id"))
        assert partial.fetchmany(2) == [("a",), ("b!",)]
        assert partial.fetchone() == ("c!",)
        assert partial.fetchone() is None


async def test_errors_roll_back_and_keep_their_dbapi_class(db):
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('x')"))
            await s.execute(text("INSERT INTO t (v) VALUES ('x')"))
    async with db.read_session() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    # The connection that failed is usable again.
    async with db.session() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('x')"))
    async with db.read_session() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 1


async def test_a_reader_sees_commits_and_holds_no_transaction(db):
    async with db.read_session() as r:
        assert (await r.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        async with db.session() as w:
            await w.execute(text("INSERT INTO t (v) VALUES ('y')"))
        # Autocommit reads: the next statement sees the write at once.
        assert (await r.execute(text("SELECT count(*) FROM t"))).scalar() == 1


async def test_writers_take_turns_and_a_starved_one_gets_busy(db, monkeypatch):
    import asyncio

    from mdreader.db import engine as engine_module

    order: list[str] = []

    async def writer(name: str, hold: float) -> None:
        async with db.session() as s:
            order.append(f"{name} in")
            await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": name})
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    await asyncio.gather(writer("a", 0.05), writer("b", 0), writer("c", 0))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]

    monkeypatch.setattr(engine_module, "WRITE_TURN_TIMEOUT", 0.05)
    with pytest.raises(engine_module.DatabaseBusy) as busy:
        async with db.session(), db.session():
            pass
    assert busy.value.status == 503
