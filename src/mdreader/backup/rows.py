"""The logical dump of the database: every row of every table as JSON, in an order a
restore can insert (parents first), and read back into rows of this schema."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from mdreader.backup.base import BackupError
from mdreader.db.engine import Database
from mdreader.db.models import Base

BATCH = 500


def encode_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _python_type(column: Any) -> type | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        return kind.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return None


def _decoder(column: Any) -> Callable[[Any], Any]:
    kind = _python_type(column)
    if kind is bytes:
        return base64.b64decode
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    if kind is uuid.UUID:
        return uuid.UUID
    return lambda value: value


def all_tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def self_references(table: Table) -> list[tuple[str, str]]:
    """(column, referenced column) pairs of foreign keys from ``table`` to itself."""
    return [
        (fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table
    ]


def parents_first(rows: list[dict[str, Any]], links: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Order rows so that a row a column of which points into the same table comes after
    the row it points to (documents under their parent), however deep the chain: walked
    with a list, not recursion. A cycle (never made by MDReader) is broken where found."""
    if not links:
        return rows
    column, target = links[0]
    by_key = {row[target]: row for row in rows}
    placed: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    for row in rows:
        chain: list[dict[str, Any]] = []
        in_chain: set[Any] = set()
        current: dict[str, Any] | None = row
        while current is not None:
            key = current[target]
            if key in placed or key in in_chain:
                break
            chain.append(current)
            in_chain.add(key)
            parent = current.get(column)
            current = by_key.get(parent) if parent is not None else None
        for item in reversed(chain):
            placed.add(item[target])
            ordered.append(item)
    return ordered


async def schema_revision(conn: AsyncConnection) -> str | None:
    try:
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:  # no alembic_version table: not an MDReader database
        return None


async def pages_of(conn: AsyncConnection, table: Table) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of ``table`` in primary-key order, BATCH at a time (keyset pagination: no
    server-side cursor, no OFFSET that rescans)."""
    key = list(table.primary_key.columns)
    after: tuple[Any, ...] | None = None
    while True:
        query = select(table).order_by(*key).limit(BATCH)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        rows = [dict(r) for r in (await conn.execute(query)).mappings()]
        if not rows:
            return
        yield rows
        if len(rows) < BATCH:
            return
        after = tuple(rows[-1][c.name] for c in key)


def without_nul(row: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL stores no NUL in text, which SQLite did (before MDReader refused it):
    such a character comes back as U+FFFD rather than failing the whole restore."""
    for key, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            row[key] = value.replace("\x00", "\ufffd")
    return row


def decoded_batches(tar: tarfile.TarFile, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` in the archive as Python values, in batches (all at once for a
    table whose rows point at each other: they are ordered before they are inserted)."""
    decoders = {c.name: _decoder(c) for c in table.columns}
    whole = bool(self_references(table))
    for batch in _row_batches(tar, f"db/{table.name}.jsonl", whole=whole):
        yield [
            {k: (None if v is None else decoders[k](v)) for k, v in row.items()} for row in batch
        ]


def _row_batches(tar: tarfile.TarFile, name: str, whole: bool) -> Iterator[list[dict[str, Any]]]:
    """The rows of one table, BATCH at a time (or all at once when ``whole``: a table whose
    rows point at each other is ordered before it is inserted)."""
    try:
        member = tar.extractfile(name)
    except KeyError:
        return
    if member is None:
        return
    batch: list[dict[str, Any]] = []
    for line in io.TextIOWrapper(member, encoding="utf-8"):
        if line.strip():
            batch.append(json.loads(line))
            if len(batch) >= BATCH and not whole:
                yield batch
                batch = []
    if batch:
        yield batch


async def refuse_unless_empty(db: Database, tables: Iterable[Table]) -> None:
    def existing(sync_conn: Any) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(sync_conn).get_table_names())

    async with db.engine.connect() as conn:
        present = await conn.run_sync(existing)
        for table in tables:
            if table.name in present and await conn.scalar(select(func.count()).select_from(table)):
                raise BackupError(
                    f"The database is not empty (table {table.name} has rows): "
                    "restore into a new, empty database."
                )


async def reset_sequences(conn: AsyncConnection, tables: Iterable[Table]) -> None:
    """Point PostgreSQL's id sequences past the restored rows."""
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto" and _python_type(column) is int
            ):
                sequence = await conn.scalar(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                )
                if sequence:
                    highest = select(func.max(column)).scalar_subquery()
                    await conn.execute(
                        select(
                            func.setval(sequence, func.coalesce(highest, 1), highest.is_not(None))
                        )
                    )
