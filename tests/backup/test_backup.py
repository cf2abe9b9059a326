"""mdreader backup / restore: an archive restored into an empty instance reproduces every row
and file byte for byte; retention keeps daily archives 30 days and weekly ones 90."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader import backup as backups
from mdreader.backends.storage import create_storage
from mdreader.backup import archive, rows
from mdreader.db import Database, migrate
from mdreader.db.models import Base
from tests.conftest import BACKEND, PASSWORD, PG_ADMIN_URL, _pg_admin, make_settings

MDREADER = [sys.executable, "-m", "mdreader"]


def _env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env.update(
        {
            "MDREADER_DATA_DIR": str(data_dir),
            "MDREADER_DATABASE_URL": database_url,
            "MDREADER_SECRET_KEY": "backup-test-secret-" + "y" * 40,
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MDREADER, *args], env=env, capture_output=True, text=True, timeout=120)


async def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order, as Python values."""
    db = Database(url, pool_size=1)
    try:
        out: dict[str, list[dict[str, Any]]] = {}
        async with db.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                order = list(table.primary_key.columns)
                result = await conn.execute(select(table).order_by(*order))
                out[table.name] = [dict(row) for row in result.mappings()]
        return out
    finally:
        await db.dispose()


async def _files(settings, url: str) -> dict[str, str]:
    """sha256 of every stored file the database knows, by storage key."""
    storage = create_storage(settings)
    rows = (await _rows(url))["files"]
    out = {}
    for row in rows:
        data = await storage.get(row["storage_key"])
        assert data is not None and hashlib.sha256(data).hexdigest() == row["sha256"]
        out[row["storage_key"]] = row["sha256"]
    return out


@pytest.fixture
async def empty_database(tmp_path: Path):
    """A second, empty database of the same kind as the suite's."""
    if BACKEND != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'mdreader.db'}"
        return
    name = f"mdreader_restore_{os.getpid()}"
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    await _pg_admin(f'CREATE DATABASE "{name}"')
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _populate(client, factory, settings) -> dict[str, str]:
    owner = await factory.user("owner")
    ws = await factory.workspace(owner, "Backed up")
    editor = await factory.member(ws, owner, "editor")
    contents = {
        "root": "# Root\n\nÅ line with ünïcödé, emoji 🧪 and CJK 漢字.\n",
        "child": "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "grandchild": "- [ ] task\n- [x] done\n" * 50,
    }
    root = await factory.document(ws, owner, "Root", contents["root"])
    child = await factory.document(ws, editor, "Child", contents["child"], root["id"])
    grand = await factory.document(ws, owner, "Grandchild", contents["grandchild"], child["id"])
    # Live edits that are still in the update log, not yet compacted.
    r = await client.patch(
        f"/api/documents/{root['id']}",
        json={"content": contents["root"] + "More text.\n"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    for label in ("first draft", None):
        r = await client.post(
            f"/api/documents/{child['id']}/versions",
            json={"label": label} if label else {},
            headers=editor.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.post(f"/api/documents/{root['id']}/shares", json={}, headers=owner.headers)
    assert r.status_code == 201, r.text
    trashed = await factory.document(ws, owner, "Trashed", "gone for now")
    assert (
        await client.delete(f"/api/documents/{trashed['id']}", headers=owner.headers)
    ).status_code == 204
    # Uploaded files, through the API into the instance's storage.
    for name, data, kind in (
        ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64, "image/png"),
        ("notes.txt", "text ✓\n".encode(), "text/plain"),
    ):
        up = await client.post(
            f"/api/workspaces/{ws['id']}/files",
            files={"file": (name, data, kind)},
            headers=owner.headers,
        )
        assert up.status_code == 201, up.text
    return {
        "email": owner.email,
        "workspace": ws["id"],
        "root": root["id"],
        "child": child["id"],
        "grand": grand["id"],
        "share": r.json()["token"],
    }


async def test_backup_then_restore_into_an_empty_instance_is_byte_for_byte(
    client, factory, settings, database_url, empty_database, tmp_path
):
    ids = await _populate(client, factory, settings)
    before = await _rows(database_url)
    files_before = await _files(settings, database_url)
    assert len(files_before) == 2

    backups_dir = tmp_path / "backups"
    r = _cli(_env(settings.data_dir, database_url), "backup", str(backups_dir))
    assert r.returncode == 0, r.stderr
    assert "Backed up" in r.stdout and "2 files" in r.stdout
    (archive,) = backups_dir.iterdir()
    assert backups.archive_time(archive.name) is not None

    restored_dir = tmp_path / "restored"
    env = _env(restored_dir, empty_database)
    r = _cli(env, "restore", str(backups_dir))  # a folder: its newest archive
    assert r.returncode == 0, r.stderr
    assert "Restored" in r.stdout

    restored = make_settings(tmp_path / "r", empty_database, data_dir=restored_dir)
    after = await _rows(empty_database)
    for table in ("documents", "document_versions", "shares", "search_documents", "files"):
        assert before[table], f"the test wrote no {table}"
    for table in before:
        assert after[table] == before[table], f"table {table} differs after restore"
    assert await _files(restored, empty_database) == files_before

    # The restored instance works: the same documents, and it takes new edits.
    from mdreader.app import create_app

    app = create_app(restored)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            login = await c.post(
                "/api/auth/login",
                json={"email": ids["email"], "password": PASSWORD},
            )
            assert login.status_code == 200, login.text
            h = {"Authorization": f"Bearer {login.json()['access_token']}"}
            doc = (await c.get(f"/api/documents/{ids['root']}", headers=h)).json()
            assert doc["content"].endswith("More text.\n")
            versions = (await c.get(f"/api/documents/{ids['child']}/versions", headers=h)).json()
            assert {v["label"] for v in versions} >= {"first draft"}
            hits = (
                await c.get(f"/api/workspaces/{ids['workspace']}/search?q=emoji", headers=h)
            ).json()
            assert [hit["document_id"] for hit in hits] == [ids["root"]]
            assert (await c.get(f"/s/{ids['share']}")).status_code == 200
            r = await c.patch(
                f"/api/documents/{ids['grand']}", json={"content": "new after restore"}, headers=h
            )
            assert r.status_code == 200, r.text
            assert (await c.get(f"/api/documents/{ids['grand']}", headers=h)).json()[
                "content"
            ] == "new after restore"


async def test_restore_refuses_a_database_that_is_not_empty(
    client, factory, settings, database_url, tmp_path
):
    await factory.user("someone")
    backups_dir = tmp_path / "backups"
    env = _env(settings.data_dir, database_url)
    assert _cli(env, "backup", str(backups_dir)).returncode == 0
    r = _cli(env, "restore", str(backups_dir))
    assert r.returncode != 0
    assert "not empty" in r.stderr
    assert len(await _rows(database_url)) > 0  # nothing was touched


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    env = _env(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    bogus = tmp_path / "mdreader-20260101T000000Z.tar.gz"
    bogus.write_bytes(b"not a tarball")
    r = _cli(env, "restore", str(bogus))
    assert r.returncode != 0 and "not a readable MDReader backup" in r.stderr
    r = _cli(env, "restore", str(tmp_path / "nowhere"))
    assert r.returncode != 0 and "No MDReader backup archive" in r.stderr


async def _sqlite_backup_restores_into_postgresql(tmp_path):
    """The archive is logical JSON: it moves between database kinds."""
    source = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    migrate(source)
    engine = create_async_engine(source)
    uid, wid, did = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            Base.metadata.tables["users"].insert(),
            [
                {
                    "id": uid,
                    "email": "x@example.com",
                    "name": "X",
                    "email_verified": True,
                    "is_admin": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        await conn.execute(
            Base.metadata.tables["workspaces"].insert(),
            [{"id": wid, "name": "W", "created_at": now, "updated_at": now}],
        )
        await conn.execute(
            Base.metadata.tables["documents"].insert(),
            [
                {
                    "id": did,
                    "workspace_id": wid,
                    "title": "D",
                    "content": "é🧪",
                    "ystate": b"\x00\x01\xff",
                    "position": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    await engine.dispose()
    archive = tmp_path / "a.tar.gz"
    db = Database(source)
    await backups.dump(db, None, archive)
    await db.dispose()

    name = f"mdreader_cross_{os.getpid()}"
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    await _pg_admin(f'CREATE DATABASE "{name}"')
    target = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(target)
        await backups.load(db, None, archive, migrate)
        await db.dispose()
        assert await _rows(target) == await _rows(source)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if BACKEND == "postgresql":  # the PostgreSQL pass of make test (no skip in the SQLite one)
    test_a_sqlite_backup_restores_into_postgresql = _sqlite_backup_restores_into_postgresql


# --- retention ------------------------------------------------------------------------------


def test_retention_keeps_30_days_of_dailies_then_weeklies_to_90_days():
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    names = [backups.archive_name(now - timedelta(days=d)) for d in range(200)]
    names += ["notes.txt", "mdreader-latest.tar.gz"]  # not ours: never touched
    gone = set(backups.expired(names, now))
    kept = [n for n in names if n not in gone]
    ages = sorted((now - backups.archive_time(n)).days for n in kept if backups.archive_time(n))
    assert [a for a in ages if a < 30] == list(range(30))
    weekly = [a for a in ages if a >= 30]
    assert all(a < 90 for a in weekly)
    # One per ISO week between 30 and 90 days: about eight or nine weeks.
    weeks = {(now - timedelta(days=a)).isocalendar()[:2] for a in weekly}
    assert len(weeks) == len(weekly) and 8 <= len(weekly) <= 10
    assert "notes.txt" not in gone and "mdreader-latest.tar.gz" not in gone


def test_retention_never_deletes_the_newest_archive():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    old = [backups.archive_name(now - timedelta(days=400 + d)) for d in range(3)]
    assert backups.expired(old, now) == old[1:]


def test_backup_prunes_its_destination(tmp_path):
    now = datetime(2026, 11, 25, tzinfo=UTC)
    dest = backups.FolderDestination(tmp_path / "b")
    (tmp_path / "b").mkdir()
    for d in (1, 2, 100, 120):
        (tmp_path / "b" / backups.archive_name(now - timedelta(days=d))).write_bytes(b"x")
    gone = backups.expired(dest.names(), now)
    assert sorted(gone) == sorted(backups.archive_name(now - timedelta(days=d)) for d in (100, 120))


async def test_backup_to_s3_and_restore_from_it(
    tmp_path, settings, database_url, client, factory, empty_database, moto
):
    """An s3:// destination, against moto in server mode."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="backups")
    user = await factory.user("s3")
    env = _env(settings.data_dir, database_url)
    env.update({"MDREADER_S3_ENDPOINT_URL": moto.endpoint, "MDREADER_S3_REGION": moto.region})
    r = _cli(env, "backup", "s3://backups/nightly")
    assert r.returncode == 0, r.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="backups")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("nightly/mdreader-")
    env2 = {
        **env,
        "MDREADER_DATA_DIR": str(tmp_path / "r"),
        "MDREADER_DATABASE_URL": empty_database,
    }
    r = _cli(env2, "restore", "s3://backups/nightly")
    assert r.returncode == 0, r.stderr
    users = (await _rows(empty_database))["users"]
    assert [u["email"] for u in users] == [user.email]


async def test_a_backup_is_one_snapshot_of_every_table(
    client, factory, settings, database_url, tmp_path, monkeypatch
):
    """A change committed while the dump is under way (a compaction moving a document's log
    into its row, say) is in no table of the archive: every table is read as it was when the
    dump began, as pg_dump does."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner, "Snapshot")
    doc = await factory.document(ws, owner, "Before the dump", "text")
    order = [t.name for t in rows.all_tables()]
    assert order.index("users") < order.index("documents")
    writer = Database(database_url, pool_size=1)
    read_pages = archive.pages_of
    changed = False

    async def pages_then_a_change(conn, table):
        nonlocal changed
        async for page in read_pages(conn, table):
            yield page
        if table.name == "users" and not changed:
            changed = True
            async with writer.engine.begin() as other:
                await other.execute(
                    Base.metadata.tables["documents"]
                    .update()
                    .where(Base.metadata.tables["documents"].c.id == uuid.UUID(doc["id"]))
                    .values(title="Renamed during the dump")
                )

    monkeypatch.setattr(archive, "pages_of", pages_then_a_change)
    db = Database(database_url, pool_size=1)
    try:
        await backups.dump(db, None, tmp_path / "snapshot.tar.gz")
    finally:
        await db.dispose()
        await writer.dispose()
    assert changed
    with tarfile.open(tmp_path / "snapshot.tar.gz") as tar:
        member = tar.extractfile("db/documents.jsonl")
        assert member is not None
        titles = [json.loads(line)["title"] for line in member.read().decode().splitlines()]
    assert titles == ["Before the dump"]
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["title"] == "Renamed during the dump"  # the change did commit
