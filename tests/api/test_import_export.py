"""Export of a workspace as a zip of Markdown folders, import of files and zips (the same
layout back), hostile archives refused with nothing left behind."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import stat
import uuid
import zipfile
from contextlib import asynccontextmanager

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mdreader.app import create_app
from mdreader.db.models import Document
from mdreader.errors import AppError
from mdreader.services import documents as docs
from mdreader.services.transfer.archives import check_path as _check_path
from mdreader.services.transfer.layout import safe_name
from tests.conftest import Factory, make_settings


class MemoryAttachments:
    """An in-memory attachments backend (what a storage backend's adapter provides)."""

    def __init__(self) -> None:
        self.files: dict[uuid.UUID, tuple[uuid.UUID, str, bytes]] = {}

    async def read(self, session, workspace_id, file_id):
        found = self.files.get(file_id)
        if found is None or found[0] != workspace_id:
            return None
        return found[1], found[2]

    async def save(self, session, workspace_id, user_id, name, data):
        if name.endswith(".exe"):
            raise AppError(415, "This type of file is not allowed.", "unsupported_media_type")
        file_id = uuid.uuid4()
        self.files[file_id] = (workspace_id, name, data)
        return file_id, f"/api/files/{file_id}"

    async def delete(self, workspace_id, file_id):
        self.files.pop(file_id, None)


def make_zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def read_zip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


async def _export(client, ws, user) -> bytes:
    r = await client.get(f"/api/workspaces/{ws['id']}/export", headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    return r.content


async def _import(client, ws, user, files):
    return await client.post(
        f"/api/workspaces/{ws['id']}/import", files=files, headers=user.headers
    )


async def _count(client, ws, user) -> int:
    r = await client.get(f"/api/workspaces/{ws['id']}/documents", headers=user.headers)
    return len(r.json())


async def test_export_layout_and_links(app, client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    a = await factory.document(ws, owner, "A", "")
    b = await factory.document(ws, owner, "B", "bee", parent_id=a["id"])
    await factory.document(ws, owner, "C", "sea", parent_id=a["id"])
    e = await factory.document(ws, owner, "E", "top")
    d = await factory.document(
        ws, owner, "D", f"see [E](/d/{e['id']}#part) and [A](</documents/{a['id']}>)", b["id"]
    )
    await client.patch(
        f"/api/documents/{a['id']}",
        json={"content": f"![pic](/api/files/{uuid.uuid4()}) [d](/d/{d['id']})"},
        headers=owner.headers,
    )
    await factory.document(ws, owner, "Same", "1")
    await factory.document(ws, owner, "same", "2")
    await factory.document(ws, owner, 'a/b: "c"?', "odd")
    gone = await factory.document(ws, owner, "Trashed", "x")
    await client.delete(f"/api/documents/{gone['id']}", headers=owner.headers)
    # A live edit not yet compacted is exported too.
    services = app.state.services
    async with services.db.session() as session:
        doc = await session.get(Document, uuid.UUID(e["id"]))
        await docs.write_content(services, session, doc, "top, edited live", None)
    viewer = await factory.member(ws, owner, "viewer")
    files = read_zip(await _export(client, ws, viewer))
    assert set(files) == {
        "A.md",
        "A/B.md",
        "A/B/D.md",
        "A/C.md",
        "E.md",
        "Same.md",
        "same (2).md",
        "a b c.md",
        "_titles.json",
    }
    # Titles a file name could not keep are listed beside the files.
    assert json.loads(files["_titles.json"]) == {"same (2).md": "same", "a b c.md": 'a/b: "c"?'}
    assert files["A/B/D.md"] == "see [E](../../E.md#part) and [A](<../../A.md>)"
    # No storage backend here: the attachment link is left as it was.
    assert files["A.md"].startswith("![pic](/api/files/") and "[d](A/B/D.md)" in files["A.md"]
    assert files["E.md"] == "top, edited live"


async def test_round_trip(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    a = await factory.document(ws, owner, "Guide", "intro")
    b = await factory.document(ws, owner, "Step one", "first", parent_id=a["id"])
    await factory.document(ws, owner, "Step two", f"after [one](/d/{b['id']})", parent_id=a["id"])
    exported = await _export(client, ws, owner)
    target = await factory.workspace(owner, "Copy")
    r = await _import(client, target, owner, {"files": ("export.zip", exported, "application/zip")})
    assert r.status_code == 201, r.text
    created = {d["title"]: d for d in r.json()}
    assert set(created) == {"Guide", "Step one", "Step two"}
    assert created["Guide"]["parent_id"] is None
    assert created["Step one"]["parent_id"] == created["Guide"]["id"]
    assert [created["Step one"]["position"], created["Step two"]["position"]] == [0, 1]
    r = await client.get(f"/api/documents/{created['Step two']['id']}", headers=owner.headers)
    assert r.json()["content"] == f"after [one](/d/{created['Step one']['id']})"
    # Imported documents are searchable and have a first version.
    r = await client.get(
        f"/api/workspaces/{target['id']}/search", params={"q": "intro"}, headers=owner.headers
    )
    assert [h["document_id"] for h in r.json()] == [created["Guide"]["id"]]
    r = await client.get(f"/api/documents/{created['Guide']['id']}/versions", headers=owner.headers)
    assert len(r.json()) == 1
    # Exporting the copy gives the same files back.
    assert read_zip(await _export(client, target, owner)).keys() == read_zip(exported).keys()


async def test_titles_no_file_name_can_hold_come_back_unchanged(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    titles = ["Q3: plan/draft?", "Café ☕ notes 🚀", 'A "quoted" <title> | *']
    parent = await factory.document(ws, owner, titles[0], "top")
    for title in titles[1:]:
        await factory.document(ws, owner, title, "child", parent_id=parent["id"])
    exported = await _export(client, ws, owner)
    names = read_zip(exported).keys()
    assert all(":" not in n and "?" not in n for n in names)  # file names are made safe
    target = await factory.workspace(owner, "Copy")
    r = await _import(client, target, owner, {"files": ("export.zip", exported, "application/zip")})
    assert r.status_code == 201, r.text
    assert sorted(d["title"] for d in r.json()) == sorted(titles)
    # A title list that is not one is ignored (the file names give the titles).
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("Q3 plan.md", "text")
        zf.writestr("_titles.json", "not json")
    r = await _import(
        client, target, owner, {"files": ("b.zip", broken.getvalue(), "application/zip")}
    )
    assert [d["title"] for d in r.json()] == ["Q3 plan"]


async def test_import_markdown_files_and_folders(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await factory.document(ws, owner, "Existing", "")
    r = await _import(
        client,
        ws,
        owner,
        [
            ("files", ("One.md", b"\xef\xbb\xbf# One\r\nbody", "text/markdown")),
            ("files", ("two.markdown", b"second", "text/markdown")),
        ],
    )
    assert r.status_code == 201, r.text
    assert sorted(d["title"] for d in r.json()) == ["One", "two"]
    assert sorted(d["position"] for d in r.json()) == [1, 2]  # after the existing document
    one = next(d for d in r.json() if d["title"] == "One")
    r = await client.get(f"/api/documents/{one['id']}", headers=owner.headers)
    assert r.json()["content"] == "# One\nbody"
    archive = make_zip(
        {"Folder/Deep/Leaf.md": b"leaf", "Folder/.hidden.md": b"x", "__MACOSX/a": b""}
    )
    r = await _import(client, ws, owner, {"files": ("tree.zip", archive, "application/zip")})
    assert r.status_code == 201, r.text
    by_title = {d["title"]: d for d in r.json()}
    assert set(by_title) == {"Folder", "Deep", "Leaf"}
    assert by_title["Leaf"]["parent_id"] == by_title["Deep"]["id"]
    assert by_title["Deep"]["parent_id"] == by_title["Folder"]["id"]


async def test_roles(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    editor = await factory.member(ws, owner, "editor")
    files = {"files": ("x.md", b"x", "text/markdown")}
    assert (await _import(client, ws, viewer, files)).status_code == 403
    assert (await _import(client, ws, editor, files)).status_code == 201
    outsider = await factory.user("outsider")
    r = await client.get(f"/api/workspaces/{ws['id']}/export", headers=outsider.headers)
    assert r.status_code == 404


def _symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.md", b"fine")
        info = zipfile.ZipInfo("link.md")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


HOSTILE = {
    "zip slip": (make_zip({"ok.md": b"x", "../evil.md": b"x"}), 400),
    "nested zip slip": (make_zip({"a/../../evil.md": b"x"}), 400),
    "absolute path": (make_zip({"/etc/evil.md": b"x"}), 400),
    "windows drive": (make_zip({"C:\\evil.md": b"x"}), 400),
    "backslash slip": (make_zip({"..\\evil.md": b"x"}), 400),
    "symlink": (_symlink_zip(), 400),
    "zip bomb": (make_zip({"ok.md": b"x", "bomb.md": b"0" * (5 * 1024 * 1024)}), 413),
    "not a zip": (b"PK\x03\x04 but nothing else", 400),
    "no markdown": (make_zip({"image.png": b"\x89PNG"}), 422),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_archives_leave_nothing(client, factory, case):
    data, status = HOSTILE[case]
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    r = await _import(client, ws, owner, {"files": ("a.zip", data, "application/zip")})
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["code"]
    assert await _count(client, ws, owner) == 0


async def test_wrong_type(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    r = await _import(client, ws, owner, {"files": ("run.exe", b"MZ", "application/x-msdownload")})
    assert r.status_code == 415
    r = await client.post(f"/api/workspaces/{ws['id']}/import", headers=owner.headers)
    assert r.status_code == 422


@asynccontextmanager
async def _app_with(tmp_path, database_url, outbox, **overrides):
    application = create_app(make_settings(tmp_path, database_url, **overrides), mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, c, Factory(c, outbox)


async def test_limits_from_settings(tmp_path, database_url, outbox):
    async with _app_with(
        tmp_path,
        database_url,
        outbox,
        import_max_files=3,
        import_max_uncompressed_bytes=10_000,
        max_upload_bytes=50_000,
        max_document_bytes=2_000,
    ) as (_, client, factory):
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        cases = [
            (make_zip({f"{i}.md": b"x" for i in range(4)}), 413),  # too many entries
            (make_zip({"a.md": b"a" * 6000, "b.md": b"b" * 6000}, zipfile.ZIP_STORED), 413),
            (make_zip({"a.md": b"ok", "big.md": b"y" * 3000}, zipfile.ZIP_STORED), 413),
            (b"PK\x03\x04" + b"z" * 200_000, 413),  # the archive itself is too large
        ]
        for data, status in cases:
            r = await _import(client, ws, owner, {"files": ("a.zip", data, "application/zip")})
            assert r.status_code == status, r.text
        assert await _count(client, ws, owner) == 0


async def test_attachments_with_a_storage_backend(tmp_path, database_url, outbox):
    async with _app_with(tmp_path, database_url, outbox) as (app, client, factory):
        store = MemoryAttachments()
        # Services are frozen: the app is handed a copy with this adapter.
        app.state.services = dataclasses.replace(app.state.services, attachments=store)
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        archive = make_zip(
            {
                "Trip.md": b"![map](images/map%20one.png) ![gone](images/missing.png) [x](run.exe)",
                "run.exe": b"MZ",  # a type the storage refuses: skipped, the import goes on
                "Trip/Day 1.md": b"![map](<../images/map one.png>) [back](../Trip.md)",
                "images/map one.png": b"\x89PNG-map",
                "images/unused.png": b"\x89PNG-unused",
            }
        )
        r = await _import(client, ws, owner, {"files": ("trip.zip", archive, "application/zip")})
        assert r.status_code == 201, r.text
        by_title = {d["title"]: d for d in r.json()}
        assert set(by_title) == {"Trip", "Day 1"}
        assert len(store.files) == 1  # the referenced image, once
        (file_id,) = store.files
        r = await client.get(f"/api/documents/{by_title['Day 1']['id']}", headers=owner.headers)
        assert r.json()["content"] == (
            f"![map](</api/files/{file_id}>) [back](/d/{by_title['Trip']['id']})"
        )
        r = await client.get(f"/api/workspaces/{ws['id']}/export", headers=owner.headers)
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            names = set(zf.namelist())
            attachment = f"_attachments/{file_id}-map one.png"
            assert attachment in names and zf.read(attachment) == b"\x89PNG-map"
            day = zf.read("Trip/Day 1.md").decode()
        assert day == f"![map](<../_attachments/{file_id}-map%20one.png>) [back](../Trip.md)"
        # A link to another workspace's file is never followed into the export.
        other = await factory.workspace(owner, "Other")
        await factory.document(other, owner, "Thief", f"![x](/api/files/{file_id})")
        r = await client.get(f"/api/workspaces/{other['id']}/export", headers=owner.headers)
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            assert zf.namelist() == ["Thief.md"]
            assert zf.read("Thief.md").decode() == f"![x](/api/files/{file_id})"


async def test_failed_import_removes_stored_attachments(tmp_path, database_url, outbox):
    async with _app_with(tmp_path, database_url, outbox, max_document_bytes=100) as (
        app,
        client,
        factory,
    ):
        store = MemoryAttachments()
        # Services are frozen: the app is handed a copy with this adapter.
        app.state.services = dataclasses.replace(app.state.services, attachments=store)
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        archive = make_zip({"a.md": b"![i](i.png)", "i.png": b"png", "b.md": b"x" * 200})
        r = await _import(client, ws, owner, {"files": ("a.zip", archive, "application/zip")})
        assert r.status_code == 413
        assert store.files == {} and await _count(client, ws, owner) == 0


# --- properties of the path and name checks ---------------------------------------------------


@given(st.text(max_size=300))
@hsettings(max_examples=300, deadline=None)
def test_safe_name_is_a_plain_file_name(title):
    name = safe_name(title)
    assert name and len(name) <= 124
    assert not any(c in name for c in '/\\:*?"<>|\0')
    assert name == name.strip(" .") and name not in (".", "..")


@given(st.lists(st.sampled_from(["a", "..", ".", "", "b.md", "/", "\\", "C:", "x"]), max_size=8))
@hsettings(max_examples=300, deadline=None)
def test_checked_paths_never_leave_the_tree(parts):
    name = "".join(parts)
    try:
        path = _check_path(name)
    except AppError as exc:
        assert exc.status == 400
        return
    if path is not None:
        assert not path.startswith("/") and ".." not in path.split("/")
        assert "\\" not in path and not re.match(r"^[A-Za-z]:", path)


async def test_round_trip_keeps_the_order_of_siblings(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    parent = await factory.document(ws, owner, "Book", "")
    for title in ("Zeta", "Alpha", "Mu"):
        await factory.document(ws, owner, title, title.lower(), parent_id=parent["id"])
    exported = await _export(client, ws, owner)
    target = await factory.workspace(owner, "Copy")
    r = await _import(client, target, owner, {"files": ("e.zip", exported, "application/zip")})
    children = sorted((d for d in r.json() if d["parent_id"]), key=lambda d: d["position"])
    assert [d["title"] for d in children] == ["Zeta", "Alpha", "Mu"]
    # A folder's own Markdown file may come after its children in an archive.
    archive = make_zip({"Later/Child.md": b"c", "Later.md": b"parent text"})
    r = await _import(client, target, owner, {"files": ("l.zip", archive, "application/zip")})
    by_title = {d["title"]: d for d in r.json()}
    assert set(by_title) == {"Later", "Child"}
    assert by_title["Child"]["parent_id"] == by_title["Later"]["id"]
    r = await client.get(f"/api/documents/{by_title['Later']['id']}", headers=owner.headers)
    assert r.json()["content"] == "parent text"
    archive = make_zip({"Dup.md": b"a", "Dup.markdown": b"b"})
    r = await _import(client, target, owner, {"files": ("d.zip", archive, "application/zip")})
    assert r.status_code == 400


async def test_import_under_a_document(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    parent = await factory.document(ws, owner, "Inbox", "")
    await factory.document(ws, owner, "Old", "", parent_id=parent["id"])
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("n.md", b"new", "text/markdown")},
        data={"parent_id": parent["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    (created,) = r.json()
    assert created["parent_id"] == parent["id"] and created["position"] == 1
    elsewhere = await factory.workspace(owner, "Other")
    r = await client.post(
        f"/api/workspaces/{elsewhere['id']}/import",
        files={"files": ("n.md", b"new", "text/markdown")},
        data={"parent_id": parent["id"]},
        headers=owner.headers,
    )
    assert r.status_code == 404
    assert await _count(client, elsewhere, owner) == 0


async def test_imports_are_limited_per_user_and_hour(app, client, factory):
    app.state.services.settings.import_max_per_hour = 2
    owner = await factory.user("owner")
    other = await factory.member(await factory.workspace(owner), owner, "editor")
    ws = await factory.workspace(owner)

    async def import_as(user, workspace):
        return await client.post(
            f"/api/workspaces/{workspace['id']}/import",
            files={"files": ("a.md", b"# A", "text/markdown")},
            headers=user.headers,
        )

    assert [(await import_as(owner, ws)).status_code for _ in range(2)] == [201, 201]
    r = await import_as(owner, ws)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "imports in the last hour" in r.json()["detail"]
    other_ws = await factory.workspace(other)
    assert (await import_as(other, other_ws)).status_code == 201
