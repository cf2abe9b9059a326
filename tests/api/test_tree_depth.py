"""Deep document trees: the depth is capped at creation, move, import and restore with a
clear 422, and a tree thousands of levels deep (one made before the cap) still lists,
exports, backs up and restores — nothing walks it by recursion."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

from sqlalchemy import insert

from mdreader import backup as backups
from mdreader.db import Database, migrate
from mdreader.db.models import Document
from mdreader.db.types import utcnow
from mdreader.ytext import initial_state
from tests.api.test_files import zip_of
from tests.backup.test_backup import empty_database  # noqa: F401 - a fixture

DEEP = 3000


async def test_the_depth_is_capped_at_creation_move_and_import(app, client, factory):
    app.state.services.settings.max_tree_depth = 3
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    a = await factory.document(ws, owner, "A")
    b = await factory.document(ws, owner, "B", parent_id=a["id"])
    c = await factory.document(ws, owner, "C", parent_id=b["id"])
    r = await client.post(
        f"/api/workspaces/{ws['id']}/documents",
        json={"title": "D", "parent_id": c["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "too_deep", r.text
    assert "at most 3 levels" in r.json()["detail"]
    # Moving a two-level subtree under a document at level 2 would make four levels.
    x = await factory.document(ws, owner, "X")
    await factory.document(ws, owner, "Y", parent_id=x["id"])
    r = await client.patch(
        f"/api/documents/{x['id']}", json={"parent_id": b["id"]}, headers=owner.headers
    )
    assert r.status_code == 422 and r.json()["code"] == "too_deep", r.text
    r = await client.patch(
        f"/api/documents/{x['id']}", json={"parent_id": a["id"]}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    archive = zip_of({"1/2/3/4.md": "too deep", "top.md": "fine"})
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("deep.zip", archive, "application/zip")},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "too_deep", r.text
    assert "1/2/3/4.md" in r.json()["detail"]
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("ok.zip", zip_of({"1/2.md": "two"}), "application/zip")},
        data={"parent_id": a["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("ok.zip", zip_of({"1/2.md": "two"}), "application/zip")},
        data={"parent_id": b["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "too_deep", r.text


async def test_a_restored_document_whose_place_went_too_deep_comes_back_at_the_top(
    app, client, factory
):
    app.state.services.settings.max_tree_depth = 3
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    a = await factory.document(ws, owner, "A")
    b = await factory.document(ws, owner, "B", parent_id=a["id"])
    await factory.document(ws, owner, "C", parent_id=b["id"])
    await client.delete(f"/api/documents/{b['id']}", headers=owner.headers)
    x = await factory.document(ws, owner, "X")
    y = await factory.document(ws, owner, "Y", parent_id=x["id"])
    r = await client.patch(
        f"/api/documents/{a['id']}", json={"parent_id": y["id"]}, headers=owner.headers
    )
    assert r.status_code == 200, r.text  # A is now at level 3; B and C would be 4 and 5
    r = await client.post(f"/api/documents/{b['id']}/restore", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["parent_id"] is None


async def _deep_chain(app, factory) -> tuple[dict, list[uuid.UUID]]:
    """A chain of DEEP documents written straight into the database, as an older MDReader
    (no depth limit) could have made by import."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    ids = [uuid.uuid4() for _ in range(DEEP)]
    now = utcnow()
    state = initial_state("")
    rows = [
        {
            "id": ids[i],
            "workspace_id": uuid.UUID(ws["id"]),
            "parent_id": ids[i - 1] if i else None,
            "title": f"Level {i + 1}",
            "position": 0,
            "content": f"text {i + 1}" if i % 500 == 0 else "",
            "ystate": state,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(DEEP)
    ]
    async with app.state.services.db.session() as session:
        for start in range(0, DEEP, 500):
            await session.execute(insert(Document), rows[start : start + 500])
    return {"owner": owner, "ws": ws}, ids


async def test_a_tree_thousands_deep_lists_and_exports(app, client, factory):
    world, ids = await _deep_chain(app, factory)
    owner, ws = world["owner"], world["ws"]
    r = await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    assert r.status_code == 200 and len(r.json()) == DEEP
    r = await client.get(f"/api/workspaces/{ws['id']}/export", headers=owner.headers)
    assert r.status_code == 200, r.text
    names = [n for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist() if n.endswith(".md")]
    assert len(names) == DEEP
    # Levels past the limit lie flat in the deepest folder; the export imports again.
    limit = app.state.services.settings.max_tree_depth
    assert max(n.count("/") for n in names) == limit - 1
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("again.zip", r.content, "application/zip")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert len(r.json()) == DEEP
    # The deepest documents can still be moved up, and the rest of the chain with them.
    r = await client.patch(
        f"/api/documents/{ids[DEEP // 2]}", json={"parent_id": None}, headers=owner.headers
    )
    assert r.status_code == 200, r.text


async def test_a_tree_thousands_deep_backs_up_and_restores(
    app,
    factory,
    empty_database,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
):
    await _deep_chain(app, factory)
    db = app.state.services.db
    summary = await backups.backup(db, None, backups.FolderDestination(tmp_path / "b"))
    assert summary.tables["documents"] == DEEP
    (archive,) = (tmp_path / "b").iterdir()
    target = Database(empty_database, pool_size=2)
    try:
        restored = await backups.load(target, None, archive, migrate)
        assert restored.tables["documents"] == DEEP
    finally:
        await target.dispose()


def test_an_archive_that_would_not_restore_is_not_a_backup(tmp_path: Path):
    import json
    import tarfile

    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "users.jsonl").write_text("")
    manifest = {"format": 1, "revision": "x", "tables": {"users": 2}, "files": {}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "manifest.json", "manifest.json")
        tar.add(tmp_path / "db", "db")
    try:
        backups.verify(archive)
    except backups.BackupError as exc:
        assert "would not restore" in str(exc) and "users holds 0 rows" in str(exc)
    else:
        raise AssertionError("a short archive passed verification")
