"""Uploads: limits, sniffed types, safe names, members-only downloads that cannot run script."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

import httpx
import pytest

from mdreader.backends.storage import S3Storage, create_storage
from mdreader.services.files import decide_type, normalize_name, sniff
from tests.conftest import Factory, Moto, make_settings, serving

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"


def zip_of(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


async def upload(client, ws, user, name, data, content_type="application/octet-stream"):
    return await client.post(
        f"/api/workspaces/{ws['id']}/files",
        files={"file": (name, data, content_type)},
        headers=user.headers,
    )


async def test_upload_and_download_by_members_only(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    outsider = await factory.user("outsider")
    r = await upload(client, ws, owner, "shot.png", PNG, "image/png")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "shot.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert body["url"] == f"/api/files/{body['id']}"

    r = await client.get(body["url"], headers=viewer.headers)
    assert r.status_code == 200
    assert r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("inline;")
    assert "sandbox" in r.headers["content-security-policy"]
    again = await client.get(
        body["url"], headers={**viewer.headers, "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""

    assert (await client.get(body["url"], headers=outsider.headers)).status_code == 404
    assert (await client.get(body["url"])).status_code == 401
    assert (
        await client.get(f"/api/files/{uuid.uuid4()}", headers=owner.headers)
    ).status_code == 404
    # Viewers read, never upload.
    assert (await upload(client, ws, viewer, "a.png", PNG)).status_code == 403
    listed = await client.get(f"/api/workspaces/{ws['id']}/files", headers=viewer.headers)
    assert [f["id"] for f in listed.json()] == [body["id"]]


async def test_svg_and_text_are_served_as_attachments_that_cannot_run(client, factory: Factory):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    r = await upload(client, ws, owner, "logo.svg", SVG, "image/svg+xml")
    assert r.status_code == 201, r.text
    got = await client.get(r.json()["url"], headers=owner.headers)
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert got.headers["x-content-type-options"] == "nosniff"

    r = await upload(
        client, ws, owner, "notes.md", b"# Notes\n<script>x</script>\n", "text/markdown"
    )
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == "text/markdown"
    got = await client.get(r.json()["url"], headers=owner.headers)
    assert got.headers["content-type"] == "text/markdown; charset=utf-8"
    assert got.headers["content-disposition"].startswith("attachment;")


REFUSED = [
    ("page.html", HTML, "text/html"),
    ("page.txt", HTML, "text/plain"),  # HTML that claims to be text
    ("photo.png", PDF, "image/png"),  # a PDF dressed as an image
    ("photo.png", PNG, "application/pdf"),
    ("doc.pdf", PNG, "application/octet-stream"),  # the extension disagrees
    ("logo.png", SVG, "image/png"),  # script-capable SVG dressed as a raster image
    ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00", "application/octet-stream"),
    ("x.txt", b"\x00\x01\x02binary", "text/plain"),
]


async def test_types_not_allowed_or_mismatched_are_415(client, factory: Factory):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    for name, data, declared in REFUSED:
        r = await upload(client, ws, owner, name, data, declared)
        assert r.status_code == 415, (name, declared, r.text)
        assert r.json()["code"] == "unsupported_media_type"
    listed = await client.get(f"/api/workspaces/{ws['id']}/files", headers=owner.headers)
    assert listed.json() == []


async def test_over_the_limit_is_413(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, max_upload_bytes=1000)
    async with serving(settings, outbox) as (_, factory):
        client = factory.client
        owner = await factory.user()
        ws = await factory.workspace(owner)
        assert (await upload(client, ws, owner, "a.txt", b"a" * 1000)).status_code == 201
        r = await upload(client, ws, owner, "b.txt", b"a" * 1001)
        assert r.status_code == 413
        assert r.json()["code"] == "too_large"
        r = await upload(client, ws, owner, "c.txt", b"a" * 200_000)
        assert r.status_code == 413


async def test_names_are_normalized_and_ids_are_the_servers(client, factory: Factory, settings):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    r = await upload(client, ws, owner, "../../etc/Cafe\u0301\u200b.txt", b"hello", "text/plain")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Caf\u00e9.txt"
    stored = [p for p in settings.files_dir.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [uuid.UUID(r.json()["id"]).hex]


async def test_delete_removes_the_bytes(client, factory: Factory, settings):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    r = await upload(client, ws, owner, "a.txt", b"hello")
    url = r.json()["url"]
    assert (await client.delete(url, headers=viewer.headers)).status_code == 403
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    assert not [p for p in settings.files_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("downloads", ["redirect", "proxy"])
async def test_s3_storage_redirects_to_a_signed_link_or_proxies(
    tmp_path, database_url, outbox, moto: Moto, downloads
):
    settings = make_settings(
        tmp_path,
        database_url,
        storage="s3",
        s3_bucket=f"app-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=moto.endpoint,
        s3_region=moto.region,
        s3_downloads=downloads,
    )
    storage = create_storage(settings)
    assert isinstance(storage, S3Storage)
    storage.ensure_bucket()
    async with serving(settings, outbox) as (_, factory):
        client = factory.client
        owner = await factory.user()
        ws = await factory.workspace(owner)
        r = await upload(client, ws, owner, "logo.svg", SVG, "image/svg+xml")
        assert r.status_code == 201, r.text
        got = await client.get(r.json()["url"], headers=owner.headers)
        assert (await client.get("/health/ready")).status_code == 200
    if downloads == "proxy":
        assert got.status_code == 200
        assert got.content == SVG
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        return
    assert got.status_code == 307
    async with httpx.AsyncClient() as direct:
        s3 = await direct.get(got.headers["location"])
    assert s3.content == SVG
    assert s3.headers["content-disposition"].startswith("attachment;")


def test_sniffing_and_names():
    assert sniff(PNG) == "image/png"
    assert sniff(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(PDF) == "application/pdf"
    assert sniff(SVG) == "image/svg+xml"
    assert sniff(b"  <html><body>") == "text/html"
    assert sniff("plain ünïcode\n".encode()) == "text/plain"
    assert sniff(b"\xff\xfe\x00") is None
    allowed = ["text/plain", "text/csv", "image/png"]
    assert decide_type("data.csv", "text/csv", b"a,b\n1,2\n", allowed) == "text/csv"
    assert decide_type("blob", None, PNG, allowed) == "image/png"
    assert normalize_name("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert normalize_name("\u202egnp.exe") == "gnp.exe"  # no bidi override
    assert normalize_name("..") == "file"
    assert normalize_name("bell\x07\x00.txt") == "bell.txt"
    assert normalize_name("") == "file"
    assert len(normalize_name("a" * 400 + ".png")) == 255
    assert normalize_name("a" * 400 + ".png").endswith(".png")


async def test_deleting_the_workspace_deletes_its_files(client, factory: Factory, settings):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    keep = await factory.workspace(owner, "Keep")
    assert (await upload(client, ws, owner, "a.txt", b"one")).status_code == 201
    assert (await upload(client, ws, owner, "b.png", PNG)).status_code == 201
    kept = (await upload(client, keep, owner, "c.txt", b"three")).json()
    assert len([p for p in settings.files_dir.rglob("*") if p.is_file()]) == 3
    assert (
        await client.delete(f"/api/workspaces/{ws['id']}", headers=owner.headers)
    ).status_code == 204
    stored = [p.name for p in settings.files_dir.rglob("*") if p.is_file()]
    assert stored == [uuid.UUID(kept["id"]).hex]


async def test_import_and_export_keep_attachments_in_storage(client, factory: Factory, settings):
    owner = await factory.user()
    ws = await factory.workspace(owner)
    archive = zip_of(
        {
            "Trip.md": "![map](img/map.png) [tool](tool.exe)",
            "img/map.png": PNG,
            "tool.exe": b"MZ\x90\x00",
        }
    )
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("trip.zip", archive, "application/zip")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    (listed,) = (
        await client.get(f"/api/workspaces/{ws['id']}/files", headers=owner.headers)
    ).json()
    assert (listed["name"], listed["content_type"], listed["size"]) == (
        "map.png",
        "image/png",
        len(PNG),
    )
    doc = (await client.get(f"/api/documents/{r.json()[0]['id']}", headers=owner.headers)).json()
    assert doc["content"] == f"![map]({listed['url']}) [tool](tool.exe)"  # the .exe is not taken
    assert (await client.get(listed["url"], headers=owner.headers)).content == PNG
    exported = await client.get(f"/api/workspaces/{ws['id']}/export", headers=owner.headers)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
        assert zf.read(f"_attachments/{listed['id']}-map.png") == PNG


async def test_failed_import_leaves_no_stored_file(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, max_document_bytes=100)
    async with serving(settings, outbox) as (_, factory):
        client = factory.client
        owner = await factory.user()
        ws = await factory.workspace(owner)
        archive = zip_of({"a.md": "![i](i.png)", "i.png": PNG, "b.md": "x" * 200})
        r = await client.post(
            f"/api/workspaces/{ws['id']}/import",
            files={"files": ("a.zip", archive, "application/zip")},
            headers=owner.headers,
        )
        assert r.status_code == 413, r.text
        listed = await client.get(f"/api/workspaces/{ws['id']}/files", headers=owner.headers)
        assert listed.json() == []
    assert not [p for p in settings.files_dir.rglob("*") if p.is_file()]
