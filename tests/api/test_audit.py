"""The audit log: an entry for each audited event (who, what, when, from where), per
workspace for admins and per user for themselves, in the JSON log too, kept for the
retention."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pyotp

from mdreader.db.models import AuditEvent
from mdreader.db.types import utcnow
from mdreader.observability import JsonFormatter
from mdreader.services import audit
from tests.conftest import Factory

UA = {"User-Agent": "audit-test/1.0"}


async def own(factory: Factory, user) -> list[dict]:
    r = await factory.client.get("/api/auth/audit", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def workspace_log(factory: Factory, user, ws) -> list[dict]:
    r = await factory.client.get(f"/api/workspaces/{ws['id']}/audit", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_sign_ins_failed_ones_mfa_and_passwords_are_in_ones_own_log(factory: Factory, outbox):
    c = factory.client
    user = await factory.user("audited")
    r = await c.post(
        "/api/auth/login", json={"email": user.email, "password": "Wrong-pass-1"}, headers=UA
    )
    assert r.status_code == 401
    r = await c.post(
        "/api/auth/login", json={"email": user.email, "password": user.password}, headers=UA
    )
    assert r.status_code == 200
    enrol = (await c.post("/api/auth/mfa/totp", headers=user.headers)).json()
    code = pyotp.TOTP(enrol["secret"]).now()
    assert (
        await c.post("/api/auth/mfa/totp/confirm", json={"code": code}, headers=user.headers)
    ).status_code == 200
    r = await c.request(
        "DELETE",
        "/api/auth/mfa/totp",
        json={"code": pyotp.TOTP(enrol["secret"]).at(utcnow() + timedelta(seconds=30))},
        headers=user.headers,
    )
    assert r.status_code == 204, r.text
    r = await c.post(
        "/api/auth/password-change",
        json={"current_password": user.password, "new_password": "Another-Pass-9"},
        headers=user.headers,
    )
    assert r.status_code == 204
    assert (await c.post("/api/auth/password-reset", json={"email": user.email})).status_code == 202
    token = outbox.token_for(user.email)
    r = await c.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "Third-Pass-77"}
    )
    assert r.status_code == 204
    fresh = await factory.login(user.id, user.email, "Third-Pass-77")
    entries = await own(factory, fresh)
    actions = [e["action"] for e in reversed(entries)]
    assert actions[:1] == ["auth.sign_in"]  # registration's own sign-in (the factory's)
    assert actions[1:] == [
        "auth.sign_in_failed",
        "auth.sign_in",
        "mfa.enabled",
        "mfa.disabled",
        "password.changed",
        "password.reset_requested",
        "password.reset",
        "auth.sign_in",
    ]
    failed = next(e for e in entries if e["action"] == "auth.sign_in_failed")
    assert failed["actor_id"] is None and failed["actor_email"] == user.email
    assert failed["subject_user_id"] == user.id
    assert failed["detail"] == {"method": "password", "reason": "invalid_credentials"}
    assert failed["ip"] == "203.0.113.7" and failed["user_agent"] == "audit-test/1.0"
    # Paging back by time.
    older = await c.get(f"/api/auth/audit?before={entries[2]['at']}&limit=2", headers=fresh.headers)
    assert [e["id"] for e in older.json()] == [e["id"] for e in entries[3:5]]
    # Nobody else sees it.
    stranger = await factory.user("stranger")
    assert all(e["subject_user_id"] != user.id for e in await own(factory, stranger))


async def test_a_workspaces_log_for_its_admins(factory: Factory):
    c = factory.client
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    admin = await factory.member(ws, owner, "admin")
    r = await c.patch(
        f"/api/workspaces/{ws['id']}/members/{editor.id}",
        json={"role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 200
    r = await c.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": "new@example.com", "role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 202
    invitation = r.json()["invitation"]["id"]
    r = await c.delete(
        f"/api/workspaces/{ws['id']}/invitations/{invitation}", headers=owner.headers
    )
    assert r.status_code == 204
    doc = await factory.document(ws, owner, "Secret plan", "x")
    share = (
        await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    ).json()
    assert (
        await c.delete(f"/api/documents/{doc['id']}/shares/{share['token']}", headers=owner.headers)
    ).status_code == 204
    r = await c.post(
        "/api/auth/tokens", json={"name": "ci", "workspace_id": ws["id"]}, headers=owner.headers
    )
    assert r.status_code == 201
    assert (
        await c.get(f"/api/workspaces/{ws['id']}/export", headers=owner.headers)
    ).status_code == 200
    assert (await c.delete(f"/api/documents/{doc['id']}", headers=owner.headers)).status_code == 204
    assert (
        await c.delete(f"/api/documents/{doc['id']}/permanent", headers=owner.headers)
    ).status_code == 204
    assert (
        await c.delete(f"/api/workspaces/{ws['id']}/members/{editor.id}", headers=owner.headers)
    ).status_code == 204

    entries = await workspace_log(factory, admin, ws)
    assert [e["action"] for e in reversed(entries)] == [
        "member.added",
        "member.added",
        "member.role_changed",
        "invitation.created",
        "invitation.revoked",
        "share.created",
        "share.revoked",
        "token.created",
        "workspace.exported",
        "document.trashed",
        "document.deleted",
        "member.removed",
    ]
    assert all(e["actor_id"] == owner.id and e["ip"] == "203.0.113.7" for e in entries)
    role = next(e for e in entries if e["action"] == "member.role_changed")
    assert role["subject_user_id"] == editor.id and role["detail"] == {"role": "viewer"}
    deleted = next(e for e in entries if e["action"] == "document.deleted")
    assert (
        deleted["target"] == f"document:{doc['id']}" and deleted["detail"]["title"] == "Secret plan"
    )
    # Not for the members below admin.
    r = await c.get(f"/api/workspaces/{ws['id']}/audit", headers=editor.headers)
    assert r.status_code == 404  # no longer a member
    viewer = await factory.member(ws, owner, "viewer")
    assert (
        await c.get(f"/api/workspaces/{ws['id']}/audit", headers=viewer.headers)
    ).status_code == 403
    # A deleted workspace's deletion stays on record (in its owner's own log).
    assert (await c.delete(f"/api/workspaces/{ws['id']}", headers=owner.headers)).status_code == 204
    assert "workspace.deleted" in [e["action"] for e in await own(factory, owner)]


async def test_entries_are_json_log_lines_too(factory: Factory, caplog):
    caplog.set_level(logging.INFO, logger="mdreader.audit")
    user = await factory.user("logged")
    await factory.client.post(
        "/api/auth/login", json={"email": user.email, "password": "nope-Nope-1"}
    )
    record = next(
        r for r in caplog.records if getattr(r, "audit", {}).get("action") == "auth.sign_in_failed"
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == "mdreader.audit"
    assert line["audit"]["actor_email"] == user.email and line["audit"]["ip"] == "203.0.113.7"
    assert line["audit"]["subject_user"] == user.id


async def test_retention(app, factory: Factory):
    services = app.state.services
    user = await factory.user("old")
    async with services.db.session() as session:
        for days in (400, 10):
            session.add(
                AuditEvent(
                    id=uuid.uuid4(),
                    at=utcnow() - timedelta(days=days),
                    action="auth.sign_in",
                    actor_id=uuid.UUID(user.id),
                    detail="{}",
                    ip="",
                    user_agent="",
                )
            )
    assert await audit.prune(services) == 1
    entries = await own(factory, user)
    assert len(entries) == 2  # the 10-day-old one and the factory's sign-in
    services.settings.audit_retention_days = 0
    assert await audit.prune(services) == 0
