"""What every request must satisfy before a route runs (api/input.py): no text a database
cannot store — a NUL character or a lone surrogate — in the path, the query string or a JSON
body, on every route including the unauthenticated ones; files with such text are refused
where they are decoded (import)."""

from __future__ import annotations

import json
import uuid

import pytest

from mdreader import storable
from tests.api.test_authz_matrix import api_routes
from tests.api.test_files import zip_of

NUL_JSON = (
    b'{"title": "a\\u0000b", "name": "a\\u0000b", "email": "a\\u0000@example.com", '
    b'"password": "P\\u0000ssword-1", "content": "x\\u0000", "token": "t\\u0000", '
    b'"refresh_token": "t\\u0000", "code": "1\\u0000", "current_password": "\\u0000", '
    b'"new_password": "\\u0000", "role": "viewer\\u0000", "label": "\\u0000", "q": "\\u0000"}'
)
LONE_SURROGATE_JSON = NUL_JSON.replace(b"\\u0000", b"\\ud800")


def _path(route_path: str) -> str:
    out = route_path
    for name in (
        "workspace_id",
        "document_id",
        "user_id",
        "file_id",
        "version_id",
        "session_id",
        "invitation_id",
        "token",
        "vid",
    ):
        out = out.replace("{" + name + "}", str(uuid.uuid4()))
    return out


def _json_routes(app):
    for route in api_routes(app):
        field = route.body_field
        if field is None or "multipart" in str(getattr(field.field_info, "media_type", "")):
            continue
        if route.path.endswith(("/files", "/import")):
            continue
        for method in route.methods:
            yield method, route.path


def test_scanner_knows_escapes_from_text():
    assert storable.json_unstorable(b'{"a": "\\u0000"}')
    assert storable.json_unstorable(b'{"a": "\\uD800"}')
    assert storable.json_unstorable(b'{"a": "\\udc00x"}')
    assert storable.json_unstorable(b'{"a": "\\ud83d"}')
    assert storable.json_unstorable(b'{"a": "\\ud83d\\u0041"}')
    assert storable.json_unstorable(b'{"a": "\\\\\\u0000"}')  # \\ then the escape
    assert storable.json_unstorable(b'{"a": "x"}' + b"\xed\xa0\x80")
    assert not storable.json_unstorable(b'{"a": "\\ud83d\\ude00 ok"}')
    assert not storable.json_unstorable(b'{"a": "\\\\u0000"}')  # a backslash, then text
    assert not storable.json_unstorable('{"a": "é ü 😀 \\n"}'.encode())
    assert storable.form_unstorable(b"q=a%00b") and not storable.form_unstorable(b"q=a%2500")


async def test_every_json_route_refuses_unstorable_text(app, client):
    routes = sorted(set(_json_routes(app)))
    assert len(routes) > 15  # the login, register and document routes among them
    for body in (NUL_JSON, LONE_SURROGATE_JSON):
        for method, path in routes:
            r = await client.request(
                method, _path(path), content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code == 422, (method, path, r.status_code, r.text)
            assert r.json()["code"] == "invalid_text", (method, path, r.text)


async def test_query_and_path_refuse_nul(app, client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    r = await client.get(f"/api/workspaces/{ws['id']}/search?q=a%00b", headers=owner.headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_text"
    r = await client.get("/api/auth/me%00", headers=owner.headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_text"
    # Nothing else is refused: a real search still answers.
    r = await client.get(f"/api/workspaces/{ws['id']}/search?q=ab", headers=owner.headers)
    assert r.status_code == 200


@pytest.mark.parametrize("text", ["a\x00b", "a\ud800b"])
async def test_nothing_is_stored_and_the_hot_patch_refuses_too(client, factory, text):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, content="kept")
    body = json.dumps({"content": text, "title": "T"}).encode()
    r = await client.patch(
        f"/api/documents/{doc['id']}",
        content=body,
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_text", r.text
    r = await client.get(f"/api/documents/{doc['id']}", headers=owner.headers)
    assert r.json()["content"] == "kept" and r.json()["title"] == "Doc"


async def test_unauthenticated_routes_answer_4xx_not_500(client):
    for path, body in (
        (
            "/api/auth/register",
            {"email": "x@example.com", "password": "Ab1!\ud800xyzw", "name": "n"},
        ),
        ("/api/auth/login", {"email": "x@example.com", "password": "\x00"}),
        ("/api/auth/password-reset", {"email": "x\x00@example.com"}),
    ):
        r = await client.post(
            path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["code"] == "invalid_text", (path, r.text)


async def test_import_of_a_file_with_nul_is_refused(client, factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    archive = zip_of({"fine.md": b"# fine", "bad.md": b"text\x00more"})
    r = await client.post(
        f"/api/workspaces/{ws['id']}/import",
        files={"files": ("notes.zip", archive, "application/zip")},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_text", r.text
    assert "bad.md" in r.json()["detail"]
    r = await client.get(f"/api/workspaces/{ws['id']}/documents", headers=owner.headers)
    assert r.json() == []
