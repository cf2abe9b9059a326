"""Making an archive (``backup``: dump, read back as a restore would, store, prune), checking
one (``verify``) and restoring one into an empty database (``load``).

An archive ``mdreader-YYYYMMDDTHHMMSSZ.tar.gz`` holds:
  manifest.json        format, MDReader version, schema revision, row counts, file checksums
  db/<table>.jsonl     every row of every table, one JSON object per line (``rows``)
  files/<key>          every stored file, under its storage key (``files``)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mdreader import __version__
from mdreader.backup.base import BackupError, Progress, no_progress
from mdreader.backup.destinations import Destination, archive_name, expired
from mdreader.backup.files import FileStore
from mdreader.backup.rows import (
    BATCH,
    all_tables,
    decoded_batches,
    encode_value,
    pages_of,
    parents_first,
    refuse_unless_empty,
    reset_sequences,
    schema_revision,
    self_references,
    without_nul,
)
from mdreader.db.engine import Database

FORMAT = 1


@dataclass
class Summary:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    where: str = ""
    pruned: list[str] = field(default_factory=list)


@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection that reads every table as it was at its first read, as pg_dump does: a
    compaction committing between the documents and their update log must not drop the edits
    it moved. Writers go on beside it on both databases."""
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn
        return
    # SQLite (WAL): a deferred transaction keeps the snapshot of its first read and takes no
    # lock a writer waits for (the write engine's BEGIN IMMEDIATE would stall every edit).
    async with db.primary_read_engine.connect() as conn:
        await conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            await conn.exec_driver_sql("ROLLBACK")


async def dump(
    db: Database, files: FileStore | None, out: Path, progress: Progress = no_progress
) -> Summary:
    """Write one archive of the database behind ``db`` and of ``files`` to ``out``."""
    summary = Summary()
    tables = all_tables()
    with tempfile.TemporaryDirectory(prefix="mdreader-backup-") as tmp:
        work = Path(tmp)
        (work / "db").mkdir()
        async with _snapshot(db) as conn:
            revision = await schema_revision(conn)
            counts = {
                t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in tables
            }
            total, done = sum(counts.values()), 0
            progress("rows", 0, total)
            for table in tables:
                with (work / "db" / f"{table.name}.jsonl").open("w", encoding="utf-8") as fh:
                    async for part in pages_of(conn, table):
                        for row in part:
                            fh.write(json.dumps({k: encode_value(v) for k, v in row.items()}))
                            fh.write("\n")
                        done += len(part)
                        progress("rows", done, total)
                summary.tables[table.name] = counts[table.name]
            # The files the archived rows name (one uploaded since is not among them).
            keys = [] if files is None else [key async for key in files.list_keys(conn)]
        checksums: dict[str, dict[str, Any]] = {}
        if files is not None:
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


def verify(archive: Path, progress: Progress = no_progress) -> None:
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
            tables = {t.name: t for t in all_tables()}
            total, done = sum(manifest["tables"].values()), 0
            progress("verify", 0, total)
            for name, expected in manifest["tables"].items():
                table = tables[name]
                links = self_references(table)
                count = 0
                for rows in decoded_batches(tar, table):
                    if links and len(parents_first(rows, links)) != len(rows):
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
    progress: Progress = no_progress,
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
    progress: Progress = no_progress,
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
        tables = {t.name: t for t in all_tables()}
        unknown = set(manifest["tables"]) - set(tables)
        if unknown:
            raise BackupError(
                "The archive holds tables this MDReader does not know: "
                f"{', '.join(sorted(unknown))}."
            )
        await refuse_unless_empty(db, tables.values())
        migrate(db.url, revision)
        summary = Summary()
        total, done = sum(manifest["tables"].values()), 0
        progress("rows", 0, total)
        async with db.session() as session:
            conn = await session.connection()
            for table in tables.values():
                if table.name not in manifest["tables"]:
                    continue
                links = self_references(table)
                count = 0
                for rows in decoded_batches(tar, table):
                    if db.dialect == "postgresql":
                        rows = [without_nul(row) for row in rows]
                    for start in range(0, len(rows), BATCH):
                        chunk = (
                            parents_first(rows, links)[start : start + BATCH]
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
                await reset_sequences(conn, tables.values())
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


def _read_json(tar: tarfile.TarFile, name: str) -> dict[str, Any]:
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"The archive has no {name}: it is not an MDReader backup.")
    return json.loads(member.read())  # type: ignore[no-any-return]
