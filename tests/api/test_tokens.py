"""Personal access tokens on REST: shown once, stored hashed, scoped, expiring, revocable,
and never more than the policy gives their user."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from mdreader.db.models import PersonalToken
from tests.conftest import Factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_token(factory: Factory, user, **body) -> dict:
    r = await factory.client.post(
        "/api/auth/tokens", json={"name": "script", **body}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_token_is_shown_once_and_stored_hashed(app, factory: Factory):
    owner = await factory.user("owner")
    made = await make_token(factory, owner, scope="write")
    assert made["token"].startswith("mdr_pat_") and len(made["token"]) > 40
    assert made["hint"] == made["token"][-4:] and made["scope"] == "write"
    listed = await factory.client.get("/api/auth/tokens", headers=owner.headers)
    assert [t["id"] for t in listed.json()] == [made["id"]]
    assert "token" not in listed.json()[0]
    async with app.state.services.db.primary_read_session() as session:
        row = await session.scalar(select(PersonalToken))
    assert row.token_hash == hashlib.sha256(made["token"].encode()).hexdigest()
    assert made["token"] not in repr(row.__dict__)


async def test_read_tokens_read_and_write_tokens_write_as_the_role_allows(factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    doc = await factory.document(ws, owner, "Doc", "text")
    read = (await make_token(factory, owner, scope="read"))["token"]
    write = (await make_token(factory, owner, scope="write"))["token"]
    c = factory.client
    r = await c.get(f"/api/documents/{doc['id']}", headers=bearer(read))
    assert r.status_code == 200 and r.json()["content"] == "text"
    r = await c.patch(f"/api/documents/{doc['id']}", json={"content": "x"}, headers=bearer(read))
    assert r.status_code == 403 and r.json()["code"] == "token_scope"
    r = await c.post(
        f"/api/workspaces/{ws['id']}/documents", json={"title": "N"}, headers=bearer(read)
    )
    assert r.status_code == 403
    r = await c.patch(f"/api/documents/{doc['id']}", json={"content": "new"}, headers=bearer(write))
    assert r.status_code == 200 and r.json()["content"] == "new"
    # The policy still decides: a viewer's write token cannot write.
    viewer = await factory.member(ws, owner, "viewer")
    vwrite = (await make_token(factory, viewer, scope="write"))["token"]
    r = await c.patch(f"/api/documents/{doc['id']}", json={"content": "v"}, headers=bearer(vwrite))
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    r = await c.get(f"/api/workspaces/{ws['id']}/search?q=new", headers=bearer(vwrite))
    assert r.status_code == 200


async def test_a_token_cannot_manage_the_account(factory: Factory):
    owner = await factory.user("owner")
    write = (await make_token(factory, owner, scope="write"))["token"]
    c = factory.client
    assert (await c.get("/api/auth/me", headers=bearer(write))).json()["id"] == owner.id
    for method, path, body in (
        ("POST", "/api/auth/tokens", {"name": "more"}),
        ("POST", "/api/workspaces", {"name": "New"}),
        (
            "POST",
            "/api/auth/password-change",
            {"current_password": owner.password, "new_password": "Another-Pass-9"},
        ),
        ("POST", "/api/auth/mfa/totp", {}),
    ):
        r = await c.request(method, path, json=body, headers=bearer(write))
        assert r.status_code == 403, (path, r.text)
        assert r.json()["code"] == "token_scope"


async def test_a_workspace_token_sees_nothing_else(factory: Factory):
    owner = await factory.user("owner")
    mine = await factory.workspace(owner, "Mine")
    other = await factory.workspace(owner, "Other")
    inside = await factory.document(mine, owner, "In", "in")
    outside = await factory.document(other, owner, "Out", "out")
    token = (await make_token(factory, owner, scope="write", workspace_id=mine["id"]))["token"]
    c = factory.client
    assert (await c.get(f"/api/documents/{inside['id']}", headers=bearer(token))).status_code == 200
    for path in (
        f"/api/documents/{outside['id']}",
        f"/api/workspaces/{other['id']}",
        f"/api/workspaces/{other['id']}/documents",
        f"/api/workspaces/{other['id']}/export",
        f"/api/documents/{outside['id']}/comments",
    ):
        r = await c.get(path, headers=bearer(token))
        assert r.status_code == 404, (path, r.text)
    r = await c.patch(
        f"/api/documents/{outside['id']}", json={"content": "x"}, headers=bearer(token)
    )
    assert r.status_code == 404
    r = await c.post(
        f"/api/documents/{outside['id']}/comments", json={"body": "x"}, headers=bearer(token)
    )
    assert r.status_code == 404
    r = await c.post(
        f"/api/documents/{inside['id']}/comments", json={"body": "In scope"}, headers=bearer(token)
    )
    assert r.status_code == 201, r.text
    listed = await c.get("/api/workspaces", headers=bearer(token))
    assert [w["id"] for w in listed.json()] == [mine["id"]]
    # Only a workspace the user is in.
    stranger = await factory.user("stranger")
    r = await c.post(
        "/api/auth/tokens", json={"name": "x", "workspace_id": mine["id"]}, headers=stranger.headers
    )
    assert r.status_code == 404


async def test_expiry_last_use_and_revocation(app, factory: Factory):
    owner = await factory.user("owner")
    c = factory.client
    r = await c.post(
        "/api/auth/tokens",
        json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"},
        headers=owner.headers,
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_expiry"
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    made = await make_token(factory, owner, expires_at=soon)
    assert made["last_used_at"] is None and made["expires_at"].startswith(soon[:16])
    assert (await c.get("/api/auth/me", headers=bearer(made["token"]))).status_code == 200
    listed = (await c.get("/api/auth/tokens", headers=owner.headers)).json()
    assert listed[0]["last_used_at"] is not None
    # Expired: refused (the cached grant is re-checked against its expiry).
    db = app.state.services.db
    async with db.session() as session:
        await session.execute(
            update(PersonalToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await app.state.services.cache.delete(
        "pat:" + hashlib.sha256(made["token"].encode()).hexdigest()
    )
    r = await c.get("/api/auth/me", headers=bearer(made["token"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert (await c.get("/api/auth/tokens", headers=owner.headers)).json() == []
    # Revoked: refused at once; someone else's token is not found.
    live = await make_token(factory, owner)
    assert (await c.get("/api/auth/me", headers=bearer(live["token"]))).status_code == 200
    stranger = await factory.user("stranger")
    r = await c.delete(f"/api/auth/tokens/{live['id']}", headers=stranger.headers)
    assert r.status_code == 404
    r = await c.delete(f"/api/auth/tokens/{live['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert (await c.get("/api/auth/me", headers=bearer(live["token"]))).status_code == 401
    r = await c.delete(f"/api/auth/tokens/{live['id']}", headers=owner.headers)
    assert r.status_code == 404


async def test_a_made_up_token_is_401(factory: Factory):
    r = await factory.client.get("/api/auth/me", headers=bearer("mdr_pat_" + "x" * 43))
    assert r.status_code == 401
