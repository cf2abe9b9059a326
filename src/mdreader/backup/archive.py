"""Backups of an instance (database and files) as one archive, restores, and retention.

An archive ``mdreader-YYYYMMDDTHHMMSSZ.tar.gz`` holds:
  manifest.json        format, MDReader version, schema revision, row counts, file checksums
  db/<table>.jsonl     every row of every table, one JSON object per line
  files/<key>          every stored file, under its storage key

The dump is logical (JSON rows, not SQL), so a backup of a SQLite instance restores into
PostgreSQL and the other way round. A restore needs an empty database: it migrates it to the
archive's schema revision, inserts the rows, puts the files back, then migrates to the newest
revision, so an old backup restores into a newer MDReader.

Destinations are a folder or ``s3://bucket/prefix``. After a backup, older archives there
are pruned: everything from the last 30 days is kept, then one archive per week up to 90 days
(the spec's daily 30 / weekly 90), and nothing older; the newest archive is never deleted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from sqlalchemy import Table, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from mdreader import __version__
from mdreader.backends.storage import Storage, create_storage
from mdreader.db.engine import Database
from mdreader.db.models import Base, File
from mdreader.settings import Settings

FORMAT = 1
NAME = re.compile(r"^mdreader-(\d{8}T\d{6}Z)\.tar\.gz$")
BATCH = 500

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances (total 0 when unknown)."""


def _quiet(stage: str, done: int, total: int) -> None:
    pass


class BackupError(Exception):
    """A backup or restore that cannot go on, with a sentence for the operator."""


# --- files --------------------------------------------------------------------------------


class FileStore(Protocol):
    """What backups need of the file storage."""

    def list_keys(self) -> AsyncIterator[str]: ...

    async def read(self, key: str) -> bytes: ...

    async def write(self, key: str, data: bytes) -> None: ...


class StoredFiles:
    """The files the database knows (``files.storage_key``), in the instance's storage."""

    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def list_keys(self) -> AsyncIterator[str]:
        async with self.db.engine.connect() as conn:
            keys = (await conn.execute(select(File.storage_key).order_by(File.id))).scalars()
            for key in list(keys):
                yield key

    async def read(self, key: str) -> bytes:
        data = await self.storage.get(key)
        if data is None:
            raise BackupError(f"The stored file {key} is missing from the storage.")
        return data

    async def write(self, key: str, data: bytes) -> None:
        async with self.db.engine.connect() as conn:
            kind = await conn.scalar(select(File.content_type).where(File.storage_key == key))
        await self.storage.put(key, data, kind or "application/octet-stream")


def file_store(settings: Settings, db: Database) -> FileStore:
    """The instance's file storage, as backups see it."""
    return StoredFiles(db, create_storage(settings))


# --- where archives go ----------------------------------------------------------------------


class Destination(Protocol):
    def names(self) -> list[str]: ...

    def upload(self, local: Path, name: str) -> None: ...

    def download(self, name: str, local: Path) -> None: ...

    def delete(self, name: str) -> None: ...

    def describe(self, name: str) -> str: ...


@dataclass
class FolderDestination:
    root: Path

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def upload(self, local: Path, name: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{name}.partial"
        shutil.copyfile(local, partial)
        partial.replace(self.root / name)  # never a half-written archive under its name

    def download(self, name: str, local: Path) -> None:
        shutil.copyfile(self.root / name, local)

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def describe(self, name: str) -> str:
        return str(self.root / name)


@dataclass
class S3Destination:
    bucket: str
    prefix: str
    client: Any

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def names(self) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                rest = item["Key"][len(self.prefix) :]
                if "/" not in rest:
                    found.append(rest)
        return sorted(found)

    def upload(self, local: Path, name: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(name))

    def download(self, name: str, local: Path) -> None:
        self.client.download_file(self.bucket, self._key(name), str(local))

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"


def destination(where: str, s3_client: Callable[[], Any]) -> Destination:
    """A folder path, or ``s3://bucket/prefix`` (``s3_client()`` makes the boto3 client)."""
    if where.startswith("s3://"):
        bucket, _, prefix = where[5:].partition("/")
        if not bucket:
            raise BackupError(f"{where} names no bucket: use s3://bucket/prefix.")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3Destination(bucket, prefix, s3_client())
    return FolderDestination(Path(where))


# --- retention ----------------------------------------------------------------------------


def archive_name(when: datetime) -> str:
    return f"mdreader-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def archive_time(name: str) -> datetime | None:
    match = NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def expired(names: Iterable[str], now: datetime, daily: int = 30, weekly: int = 90) -> list[str]:
    """The archives retention lets go: every archive younger than ``daily`` days is kept,
    then the newest archive of each ISO week until ``weekly`` days, then none. Names that are
    not MDReader archives are never touched, and the newest archive is always kept."""
    dated = sorted(
        ((when, name) for name in names if (when := archive_time(name)) is not None),
        reverse=True,
    )
    if not dated:
        return []
    keep = {dated[0][1]}
    weeks_seen: set[tuple[int, int]] = set()
    for when, name in dated:  # newest first
        age = now - when
        if age < timedelta(days=daily):
            keep.add(name)
        elif age < timedelta(days=weekly):
            week = when.isocalendar()[:2]
            if week not in weeks_seen:
                weeks_seen.add(week)
                keep.add(name)
    return [name for _, name in dated if name not in keep]


# --- rows as JSON ---------------------------------------------------------------------------


def _encode(value: Any) -> Any:
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


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _self_references(table: Table) -> list[tuple[str, str]]:
    """(column, referenced column) pairs of foreign keys from ``table`` to itself."""
    return [
        (fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table
    ]


def _parents_first(
    rows: list[dict[str, Any]], links: list[tuple[str, str]]
) -> list[dict[str, Any]]:
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


async def _revision(conn: AsyncConnection) -> str | None:
    try:
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:  # no alembic_version table: not an MDReader database
        return None


async def _pages(conn: AsyncConnection, table: Table) -> AsyncIterator[list[dict[str, Any]]]:
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


# --- backup ---------------------------------------------------------------------------------


@dataclass
class Summary:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    where: str = ""
    pruned: list[str] = field(default_factory=list)


async def dump(
    db: Database, files: FileStore | None, out: Path, progress: Progress = _quiet
) -> Summary:
    """Write one archive of the database behind ``db`` and of ``files`` to ``out``."""
    summary = Summary()
    tables = _tables()
    with tempfile.TemporaryDirectory(prefix="mdreader-backup-") as tmp:
        work = Path(tmp)
        (work / "db").mkdir()
        async with db.engine.connect() as conn:
            revision = await _revision(conn)
            counts = {
                t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in tables
            }
            total, done = sum(counts.values()), 0
            progress("rows", 0, total)
            for table in tables:
                with (work / "db" / f"{table.name}.jsonl").open("w", encoding="utf-8") as fh:
                    async for part in _pages(conn, table):
                        for row in part:
                            fh.write(json.dumps({k: _encode(v) for k, v in row.items()}))
                            fh.write("\n")
                        done += len(part)
                        progress("rows", done, total)
                summary.tables[table.name] = counts[table.name]
        checksums: dict[str, dict[str, Any]] = {}
        if files is not None:
            keys = [key async for key in files.list_keys()]
            progress("files", 0, len(keys))
            for n, key in enumerate(keys, 1):
                data = await files.read(key)
                path = work / "files" / _safe_key(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                checksums[key] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                summary.bytes += len(data)
                progress("files", n, len(keys))
        summary.files = len(checksums)
        manifest = {
            "format": FORMAT,
            "mdreader": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "dialect": db.dialect,
            "revision": revision,
            "tables": summary.tables,
            "files": checksums,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        with tarfile.open(out, "w:gz") as tar:
            tar.add(work / "manifest.json", "manifest.json")
            tar.add(work / "db", "db")
            if (work / "files").is_dir():
                tar.add(work / "files", "files")
    return summary


def verify(archive: Path, progress: Progress = _quiet) -> None:
    """Read an archive back as a restore would, without a database: the manifest, every row
    of every table (decoded as the restore decodes it, as many as the manifest says), the
    order of rows that point at each other, and every file against its checksum. Raises
    ``BackupError`` for an archive a restore would fail on."""
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive.name} cannot be read back ({exc}).") from None
    with tar:
        try:
            manifest = _read_json(tar, "manifest.json")
            tables = {t.name: t for t in _tables()}
            total, done = sum(manifest["tables"].values()), 0
            progress("verify", 0, total)
            for name, expected in manifest["tables"].items():
                table = tables[name]
                links = _self_references(table)
                count = 0
                for rows in _decoded_batches(tar, table):
                    if links and len(_parents_first(rows, links)) != len(rows):
                        raise BackupError(f"the rows of {name} cannot be put in order")
                    count += len(rows)
                    done += len(rows)
                    progress("verify", done, total)
                if count != expected:
                    raise BackupError(f"{name} holds {count} rows, the manifest says {expected}")
            for key, meta in manifest.get("files", {}).items():
                member = tar.extractfile(f"files/{_safe_key(key)}")
                if member is None:
                    raise BackupError(f"the file {key} is missing")
                digest = hashlib.sha256()
                while chunk := member.read(1024 * 1024):
                    digest.update(chunk)
                if digest.hexdigest() != meta["sha256"]:
                    raise BackupError(f"the file {key} does not match its checksum")
        except BackupError as exc:
            raise BackupError(f"{archive.name} would not restore: {exc}.") from None
        except (KeyError, ValueError, TypeError, tarfile.TarError, OSError, RecursionError) as exc:
            raise BackupError(f"{archive.name} would not restore: {exc!r}.") from None


def _safe_key(key: str) -> str:
    """A storage key as a relative path inside the archive; refuses anything that escapes."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key or "\x00" in key:
        raise BackupError(f"The storage key {key!r} cannot be stored in an archive.")
    return str(path)


async def backup(
    db: Database,
    files: FileStore | None,
    to: Destination,
    *,
    now: datetime | None = None,
    daily: int = 30,
    weekly: int = 90,
    progress: Progress = _quiet,
) -> Summary:
    """Archive the instance into ``to``, then prune ``to`` by the retention rules."""
    now = now or datetime.now(UTC)
    name = archive_name(now)
    with tempfile.TemporaryDirectory(prefix="mdreader-backup-") as tmp:
        local = Path(tmp) / name
        summary = await dump(db, files, local, progress)
        # Read it back before it counts as a backup: one that would not restore fails here.
        await asyncio.to_thread(verify, local, progress)
        progress("upload", 0, 1)
        to.upload(local, name)
        progress("upload", 1, 1)
    summary.where = to.describe(name)
    for old in expired(to.names(), now, daily, weekly):
        to.delete(old)
        summary.pruned.append(old)
    return summary


# --- restore --------------------------------------------------------------------------------


def latest(source: Destination) -> str:
    names = [n for n in source.names() if archive_time(n) is not None]
    if not names:
        raise BackupError("No MDReader backup archive was found there.")
    return max(names, key=lambda n: archive_time(n) or datetime.min.replace(tzinfo=UTC))


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        if not member.isfile():
            continue
        yield member


async def load(
    db: Database,
    files: FileStore | None,
    archive: Path,
    migrate: Callable[[str, str], None],
    progress: Progress = _quiet,
) -> Summary:
    """Restore ``archive`` into the empty database behind ``db`` and into ``files``."""
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive.name} is not a readable MDReader backup ({exc}).") from None
    with tar:
        manifest = _read_json(tar, "manifest.json")
        if manifest.get("format") != FORMAT:
            raise BackupError(
                f"{archive.name} has backup format {manifest.get('format')!r}; "
                f"this MDReader reads format {FORMAT}."
            )
        revision = manifest.get("revision")
        if not revision:
            raise BackupError(f"{archive.name} does not say which schema revision it holds.")
        tables = {t.name: t for t in _tables()}
        unknown = set(manifest["tables"]) - set(tables)
        if unknown:
            raise BackupError(
                "The archive holds tables this MDReader does not know: "
                f"{', '.join(sorted(unknown))}."
            )
        await _refuse_unless_empty(db, tables.values())
        migrate(db.url, revision)
        summary = Summary()
        total, done = sum(manifest["tables"].values()), 0
        progress("rows", 0, total)
        async with db.session() as session:
            conn = await session.connection()
            for table in tables.values():
                if table.name not in manifest["tables"]:
                    continue
                links = _self_references(table)
                count = 0
                for rows in _decoded_batches(tar, table):
                    if db.dialect == "postgresql":
                        rows = [_without_nul(row) for row in rows]
                    for start in range(0, len(rows), BATCH):
                        chunk = (
                            _parents_first(rows, links)[start : start + BATCH]
                            if links
                            else rows[start : start + BATCH]
                        )
                        await conn.execute(table.insert(), chunk)
                        count += len(chunk)
                        done += len(chunk)
                        progress("rows", done, total)
                summary.tables[table.name] = count
                if count != manifest["tables"][table.name]:
                    raise BackupError(f"The archive's {table.name} rows are incomplete.")
            if db.dialect == "postgresql":
                await _reset_sequences(conn, tables.values())
        wanted = manifest.get("files", {})
        if wanted and files is None:
            raise BackupError("The archive holds files but no file storage is configured.")
        progress("files", 0, len(wanted))
        for n, (key, meta) in enumerate(sorted(wanted.items()), 1):
            member = tar.extractfile(f"files/{_safe_key(key)}")
            if member is None:
                raise BackupError(f"The archive lacks the file {key}.")
            data = member.read()
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise BackupError(f"The file {key} in the archive is damaged (checksum).")
            assert files is not None
            await files.write(key, data)
            summary.files += 1
            summary.bytes += len(data)
            progress("files", n, len(wanted))
    migrate(db.url, "head")
    return summary


def _without_nul(row: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL stores no NUL in text, which SQLite did (before MDReader refused it):
    such a character comes back as U+FFFD rather than failing the whole restore."""
    for key, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            row[key] = value.replace("\x00", "\ufffd")
    return row


def _read_json(tar: tarfile.TarFile, name: str) -> dict[str, Any]:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"The archive has no {name}: it is not an MDReader backup.")
    return json.loads(member.read())  # type: ignore[no-any-return]


def _decoded_batches(tar: tarfile.TarFile, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` in the archive as Python values, in batches (all at once for a
    table whose rows point at each other: they are ordered before they are inserted)."""
    decoders = {c.name: _decoder(c) for c in table.columns}
    whole = bool(_self_references(table))
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


async def _refuse_unless_empty(db: Database, tables: Iterable[Table]) -> None:
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


async def _reset_sequences(conn: AsyncConnection, tables: Iterable[Table]) -> None:
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
