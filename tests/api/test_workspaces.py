"""Workspaces, members, roles and invitations."""

from __future__ import annotations

from typing import get_args

import pytest

from mdreader.policy import Role
from mdreader.schemas import RoleName
from tests.conftest import PASSWORD, Factory


async def test_workspace_crud(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner, "Acme")
    assert ws["role"] == "owner"
    r = await client.get("/api/workspaces", headers=owner.headers)
    assert [w["name"] for w in r.json()] == ["Acme"]
    r = await client.patch(
        f"/api/workspaces/{ws['id']}", json={"name": "Acme Inc"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "Acme Inc"
    r = await client.patch(
        f"/api/workspaces/{ws['id']}", json={"name": "   "}, headers=owner.headers
    )
    assert r.status_code == 422
    assert (
        await client.delete(f"/api/workspaces/{ws['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/workspaces/{ws['id']}", headers=owner.headers)
    ).status_code == 404


async def test_add_existing_user_and_roles(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    editor = await factory.member(ws, owner, "editor")
    r = await client.get(f"/api/workspaces/{ws['id']}/members", headers=editor.headers)
    assert {m["role"] for m in r.json()} == {"owner", "editor"}
    r = await client.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": editor.email, "role": "viewer"},
        headers=owner.headers,
    )
    assert r.status_code == 409
    r = await client.patch(
        f"/api/workspaces/{ws['id']}/members/{editor.id}",
        json={"role": "admin"},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = await client.patch(
        f"/api/workspaces/{ws['id']}/members/{editor.id}",
        json={"role": "superuser"},
        headers=owner.headers,
    )
    assert r.status_code == 422


async def test_admin_cannot_touch_owners(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    admin = await factory.member(ws, owner, "admin")
    viewer = await factory.member(ws, owner, "viewer")
    base = f"/api/workspaces/{ws['id']}/members"
    r = await client.patch(f"{base}/{viewer.id}", json={"role": "owner"}, headers=admin.headers)
    assert r.status_code == 403
    r = await client.patch(f"{base}/{owner.id}", json={"role": "viewer"}, headers=admin.headers)
    assert r.status_code == 403
    assert (await client.delete(f"{base}/{owner.id}", headers=admin.headers)).status_code == 403
    r = await client.patch(f"{base}/{viewer.id}", json={"role": "editor"}, headers=admin.headers)
    assert r.status_code == 200
    r = await client.post(
        base, json={"email": "new@example.com", "role": "owner"}, headers=admin.headers
    )
    assert r.status_code == 403


async def test_workspace_says_which_roles_its_caller_may_grant(client, factory: Factory):
    """What the members page offers comes from the server's rule (policy.can_grant): an owner
    grants every role, an admin the roles below owner (admins included), others none."""
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    assert ws["grantable_roles"] == ["owner", "admin", "editor", "viewer"]
    expected = {"admin": ["admin", "editor", "viewer"], "editor": [], "viewer": []}
    members = {role: await factory.member(ws, owner, role) for role in expected}
    for role, roles in expected.items():
        headers = members[role].headers
        listed = (await client.get("/api/workspaces", headers=headers)).json()
        assert [w["grantable_roles"] for w in listed] == [roles]
        one = await client.get(f"/api/workspaces/{ws['id']}", headers=headers)
        assert one.json()["grantable_roles"] == roles
    # An admin may indeed change another admin's role, as the list says.
    other = await factory.member(ws, owner, "admin", name="admin2")
    r = await client.patch(
        f"/api/workspaces/{ws['id']}/members/{other.id}",
        json={"role": "editor"},
        headers=members["admin"].headers,
    )
    assert r.status_code == 200


@pytest.mark.database_independent
def test_role_names_are_the_policy_roles_highest_first():
    """schemas.RoleName (the OpenAPI enum the web app lists roles from) and policy.Role agree."""
    assert list(get_args(RoleName.__value__)) == [r.label for r in sorted(Role, reverse=True)]


async def test_last_owner_cannot_leave_or_be_demoted(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    base = f"/api/workspaces/{ws['id']}/members"
    r = await client.patch(f"{base}/{owner.id}", json={"role": "admin"}, headers=owner.headers)
    assert r.status_code == 409 and r.json()["code"] == "last_owner"
    r = await client.delete(f"{base}/{owner.id}", headers=owner.headers)
    assert r.status_code == 409
    second = await factory.member(ws, owner, "owner")
    assert (await client.delete(f"{base}/{owner.id}", headers=owner.headers)).status_code == 204
    assert (
        await client.get(f"/api/workspaces/{ws['id']}", headers=owner.headers)
    ).status_code == 404
    r = await client.patch(f"{base}/{second.id}", json={"role": "editor"}, headers=second.headers)
    assert r.status_code == 409


async def test_member_can_leave(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    viewer = await factory.member(ws, owner, "viewer")
    other = await factory.member(ws, owner, "editor")
    base = f"/api/workspaces/{ws['id']}/members"
    assert (await client.delete(f"{base}/{other.id}", headers=viewer.headers)).status_code == 403
    assert (await client.delete(f"{base}/{viewer.id}", headers=viewer.headers)).status_code == 204
    assert (
        await client.get(f"/api/workspaces/{ws['id']}", headers=viewer.headers)
    ).status_code == 404


async def test_invitation_by_email_then_accept(client, factory: Factory, outbox):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner, "Docs")
    r = await client.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": "Newbie@Example.com", "role": "editor"},
        headers=owner.headers,
    )
    assert r.status_code == 202
    assert r.json()["invitation"]["email"] == "newbie@example.com"
    mail = outbox.last_to("newbie@example.com")
    assert (
        "Docs" in mail.subject and "/invite?token=" in mail.text and "/invite?token=" in mail.html
    )
    # The link carries the address, for the sign-up form to start with it.
    assert "&email=newbie%40example.com" in mail.text
    token = outbox.token_for("newbie@example.com")
    r = await client.get(f"/api/workspaces/{ws['id']}/invitations", headers=owner.headers)
    assert [i["email"] for i in r.json()] == ["newbie@example.com"]

    newbie = await factory.user("newbie")
    r = await client.post("/api/invitations/accept", json={"token": token}, headers=newbie.headers)
    assert r.status_code == 200 and r.json()["role"] == "editor"
    r = await client.post("/api/invitations/accept", json={"token": token}, headers=newbie.headers)
    assert r.status_code == 400
    r = await client.get(f"/api/workspaces/{ws['id']}/invitations", headers=owner.headers)
    assert r.json() == []


async def test_invitation_accepted_when_address_verified(client, factory: Factory, outbox):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    await client.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": "later@example.com", "role": "viewer"},
        headers=owner.headers,
    )
    r = await client.post(
        "/api/auth/register", json={"email": "later@example.com", "password": PASSWORD, "name": "L"}
    )
    later = await factory.login(r.json()["id"], "later@example.com", PASSWORD)
    assert (
        await client.get(f"/api/workspaces/{ws['id']}", headers=later.headers)
    ).status_code == 404
    token = outbox.token_for("later@example.com")  # the verification mail is the newest
    assert (await client.post("/api/auth/verify-email", json={"token": token})).status_code == 200
    r = await client.get(f"/api/workspaces/{ws['id']}", headers=later.headers)
    assert r.status_code == 200 and r.json()["role"] == "viewer"


async def test_revoke_invitation(client, factory: Factory):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    r = await client.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": "x@example.com", "role": "viewer"},
        headers=owner.headers,
    )
    iid = r.json()["invitation"]["id"]
    assert (
        await client.delete(f"/api/workspaces/{ws['id']}/invitations/{iid}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/workspaces/{ws['id']}/invitations/{iid}", headers=owner.headers)
    ).status_code == 404
