"""`mdreader export` and `mdreader import` against the test database, with a progress bar."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import zipfile
from pathlib import Path

import pytest

from tests.collab.harness import SERVER_START_WITHIN

MDREADER = [sys.executable, "-m", "mdreader"]
# Each test runs the command line in fresh processes (imports, migrations): on a loaded
# two-core machine that takes minutes, and every call is bounded on its own.
pytestmark = pytest.mark.timeout(600)


async def _run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env["MDREADER_DATA_DIR"] = str(tmp_path / "cli-data")
    env["MDREADER_DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        *MDREADER,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), SERVER_START_WITHIN)
    except TimeoutError:
        proc.kill()  # not left behind for a later test's loop to find
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


async def test_export_then_import(client, factory, database_url, tmp_path):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    a = await factory.document(ws, owner, "Alpha", "top")
    b = await factory.document(ws, owner, "Beta", "child", parent_id=a["id"])
    await factory.document(ws, owner, "Gamma", f"[beta](/d/{b['id']})", parent_id=a["id"])

    zip_path = tmp_path / "out" / "export.zip"
    code, out, err = await _run(
        database_url, tmp_path, "export", "--workspace", ws["id"], str(zip_path)
    )
    assert code == 0, err
    assert "Exported 3 documents" in out and "Exporting" in err and "3/3" in err
    with zipfile.ZipFile(zip_path) as zf:
        assert set(zf.namelist()) == {"Alpha.md", "Alpha/Beta.md", "Alpha/Gamma.md"}
        assert zf.read("Alpha/Gamma.md") == b"[beta](Beta.md)"

    folder = tmp_path / "tree"
    code, out, err = await _run(
        database_url, tmp_path, "export", "--workspace", ws["id"], str(folder)
    )
    assert code == 0, err
    assert (folder / "Alpha" / "Beta.md").read_text() == "child"
    code, _, err = await _run(
        database_url, tmp_path, "export", "--workspace", ws["id"], str(folder)
    )
    assert code != 0 and "exists already" in err

    target = await factory.workspace(owner, "Copy")
    code, out, err = await _run(
        database_url, tmp_path, "import", str(folder), "--workspace", target["id"]
    )
    assert code == 0, err
    assert "Imported 3 documents" in out and "Importing" in err
    r = await client.get(f"/api/workspaces/{target['id']}/documents", headers=owner.headers)
    by_title = {d["title"]: d for d in r.json()}
    assert by_title["Beta"]["parent_id"] == by_title["Alpha"]["id"]
    r = await client.get(f"/api/documents/{by_title['Gamma']['id']}", headers=owner.headers)
    assert r.json()["content"] == f"[beta](/d/{by_title['Beta']['id']})"
    assert r.json()["created_by"] == owner.id  # the workspace's owner by default

    code, out, err = await _run(
        database_url,
        tmp_path,
        "import",
        str(zip_path),
        "--workspace",
        target["id"],
        "--user",
        owner.email,
    )
    assert code == 0 and "Imported 3 documents" in out, err


async def test_import_refuses_and_leaves_nothing(client, factory, database_url, tmp_path):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fine.md", "ok")
        zf.writestr("../../escape.md", "bad")
    hostile = tmp_path / "hostile.zip"
    hostile.write_bytes(buf.getvalue())
    code, _, err = await _run(
        database_url, tmp_path, "import", str(hostile), "--workspace", ws["id"]
    )
    assert code != 0 and "leaving its folder" in err
    r = await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    assert r.json() == []
    code, _, err = await _run(database_url, tmp_path, "import", str(hostile), "--workspace", "nope")
    assert code != 0 and "not a workspace id" in err
    code, _, err = await _run(
        database_url,
        tmp_path,
        "export",
        "--workspace",
        "00000000-0000-4000-8000-000000000000",
        str(tmp_path / "x.zip"),
    )
    assert code != 0 and "no workspace" in err
