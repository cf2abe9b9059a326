"""The authorization matrix, generated from the app's route table.

Every /api route, and the public share routes under /s/, must declare one guard (public,
authenticated, a policy rule, or the share link's grant). Each route
is called as anonymous, a user of another workspace, viewer, editor, admin and owner, and the
answer must match ``mdreader.policy``: 401 for anonymous, 404 for outsiders, 403 below the
rule, and anything else (never 401/403/404/5xx) at or above it. A new route without a guard,
or one whose handler disagrees with the policy, fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from mdreader import policy
from mdreader.api import openapi
from mdreader.policy import Role
from tests.conftest import Factory, make_settings

SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/workspaces/{workspace_id}"): {"name": "Renamed"},
    ("POST", "/api/workspaces/{workspace_id}/members"): {
        "email": "fresh@example.com",
        "role": "viewer",
    },
    ("PATCH", "/api/workspaces/{workspace_id}/members/{user_id}"): {"role": "editor"},
    ("POST", "/api/workspaces/{workspace_id}/documents"): {"title": "New"},
    ("PATCH", "/api/documents/{document_id}"): {"title": "Renamed", "content": "changed"},
    ("POST", "/api/workspaces"): {"name": "Mine"},
    ("POST", "/api/invitations/accept"): {"token": "not-a-real-token"},
    ("POST", "/api/auth/oidc/exchange"): {"code": "not-a-real-code"},
    ("POST", "/api/auth/tokens"): {"name": "matrix", "scope": "read"},
    # A local port nothing listens on (the setting below allows it): nothing leaves the machine.
    ("POST", "/api/workspaces/{workspace_id}/webhooks"): {
        "url": "http://127.0.0.1:9/hook",
        "events": ["document.created"],
    },
    ("PATCH", "/api/workspaces/{workspace_id}/webhooks/{webhook_id}"): {"active": False},
    ("POST", "/api/documents/{document_id}/comments"): {"body": "A thought"},
    ("POST", "/api/documents/{document_id}/comments/{comment_id}/replies"): {"body": "Yes"},
    ("PATCH", "/api/documents/{document_id}/comments/{comment_id}"): {"body": "Edited"},
    ("PUT", "/api/workspaces/{workspace_id}/commenting"): {"viewers_comment": True},
    ("POST", "/api/workspaces/{workspace_id}/documents/from-template"): {
        "template_id": "{document_id}"
    },
}
# Multipart routes: the form files sent instead of a JSON body.
SAMPLE_UPLOADS: dict[tuple[str, str], Any] = {
    ("POST", "/api/workspaces/{workspace_id}/files"): {
        "file": ("note.txt", b"hello", "text/plain")
    },
}


@pytest.fixture
async def settings(tmp_path, database_url):
    # A single sign-on provider, so that its routes answer as they do when configured (it
    # is not reachable: the routes send the browser back to the sign-in page with a sentence).
    return make_settings(
        tmp_path,
        database_url,
        oidc_providers=[
            {
                "name": "matrix",
                "issuer": "http://127.0.0.1:9",
                "client_id": "c",
                "client_secret": "s",
            }
        ],
        # Webhooks of the matrix point at a local port nothing listens on.
        webhook_allow_private=True,
    )


def api_routes(app: Any) -> Iterator[APIRoute]:
    yield from openapi.api_routes(app.router.routes)


def guards_of(route: APIRoute) -> list[Any]:
    found: list[Any] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            marker = getattr(dep.call, "__policy__", None)
            if marker is not None:
                found.append(marker)  # a guard's own dependencies are its business
            else:
                walk(dep)

    walk(route.dependant)
    if getattr(route.endpoint, "__policy__", None):
        found.append(route.endpoint.__policy__)
    return list(dict.fromkeys(found))


def test_every_route_declares_exactly_one_guard(app):
    missing = []
    for route in api_routes(app):
        guards = guards_of(route)
        if len(guards) != 1:
            missing.append(f"{sorted(route.methods)} {route.path}: {guards}")
    assert not missing, "routes without exactly one guard:\n" + "\n".join(missing)


async def _world(factory: Factory, users: dict[str, Any]) -> dict[str, str]:
    c = factory.client
    owner = users["owner"]
    ws = await factory.workspace(owner, "Matrix")
    for role in ("admin", "editor", "viewer"):
        r = await c.post(
            f"/api/workspaces/{ws['id']}/members",
            json={"email": users[role].email, "role": role},
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
    doc = await factory.document(ws, owner, "Doc", "text")
    r = await c.post(
        f"/api/workspaces/{ws['id']}/members",
        json={"email": "invitee@example.com", "role": "viewer"},
        headers=owner.headers,
    )
    invitation_id = r.json()["invitation"]["id"]
    uploaded = await c.post(
        f"/api/workspaces/{ws['id']}/files",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")},
        headers=owner.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    # The document shows the file, so a share link of it grants the file too.
    r = await c.patch(
        f"/api/documents/{doc['id']}",
        json={"content": f"text ![a](/api/files/{uploaded.json()['id']})"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text
    versions = await c.get(f"/api/documents/{doc['id']}/versions", headers=owner.headers)
    assert versions.status_code == 200 and versions.json(), versions.text
    share = await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
    assert share.status_code == 201, share.text
    hook = await c.post(
        f"/api/workspaces/{ws['id']}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["member.added"]},
        headers=owner.headers,
    )
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["id"]
    comment = await c.post(
        f"/api/documents/{doc['id']}/comments", json={"body": "Owner's"}, headers=owner.headers
    )
    assert comment.status_code == 201, comment.text
    r = await c.put(f"/api/documents/{doc['id']}/template", headers=owner.headers)
    assert r.status_code == 200, r.text
    return {
        "comment_id": comment.json()["id"],
        "token": share.json()["token"],
        "workspace_id": ws["id"],
        "file_id": uploaded.json()["id"],
        "document_id": doc["id"],
        "version_id": versions.json()[0]["id"],
        "user_id": users["viewer"].id,
        "invitation_id": invitation_id,
        "session_id": "00000000-0000-4000-8000-000000000000",
        "provider": "matrix",
        "token_id": "00000000-0000-4000-8000-000000000001",
        "webhook_id": webhook_id,
        "notification_id": "00000000-0000-4000-8000-000000000000",
    }


def _expected(guard: Any, caller: str, target_is_self: bool) -> str:
    if guard in ("public", "share-link"):  # the link is the credential, whoever holds it
        return "allowed"
    if caller == "anonymous":
        return "401"
    if guard == "authenticated":
        return "allowed"
    subject, action = guard
    if caller == "outsider":
        return "404"
    role = Role[caller.upper()]
    return "allowed" if policy.can(role, action, subject, is_self=target_is_self) else "403"


CALLERS = ["anonymous", "outsider", "viewer", "editor", "admin", "owner"]


# One test per caller: six tests that run side by side under pytest-xdist (make test).
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.timeout(600)
async def test_authorization_matrix(app, client, factory: Factory, caller: str):
    users = {
        name: await factory.user(name)
        for name in ("owner", "admin", "editor", "viewer", "outsider")
    }
    await factory.workspace(users["outsider"], "Elsewhere")
    shared_world = await _world(factory, users)
    failures: list[str] = []
    checked = 0
    # A changing request on a world's objects (a path with ids) gets a world of its own,
    # made again only once such a request may have changed it (it succeeded): a refused
    # request changes nothing, and one on no object (a path without ids) touches no world.
    fresh: dict[str, str] | None = None
    for route in api_routes(app):
        if not route.path.startswith(("/api/", "/s/")):
            continue
        (guard,) = guards_of(route)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            if method == "GET" or "{" not in route.path:
                world = shared_world
            else:
                world = fresh = fresh or await _world(factory, users)
            path = re.sub(r"\{(\w+)\}", lambda m: world[m.group(1)], route.path)
            headers = {} if caller == "anonymous" else users[caller].headers
            body = SAMPLE_BODIES.get((method, route.path), {})
            if isinstance(body, dict):
                body = {
                    k: re.sub(r"\{(\w+)\}", lambda m: world[m.group(1)], v)
                    if isinstance(v, str)
                    else v
                    for k, v in body.items()
                }
            kwargs: dict[str, Any] = {"headers": headers}
            if (method, route.path) in SAMPLE_UPLOADS:
                kwargs["files"] = SAMPLE_UPLOADS[(method, route.path)]
            elif method in ("POST", "PATCH", "PUT", "DELETE"):
                kwargs["json"] = body
            r = await client.request(method, path, **kwargs)
            if world is fresh and r.status_code < 400:
                fresh = None
            is_self = (
                caller != "anonymous"
                and world.get("user_id") == users[caller].id
                and "{user_id}" in route.path
            ) or (caller == "owner" and "{comment_id}" in route.path)  # the owner wrote it
            expected = _expected(guard, caller, is_self)
            status = r.status_code
            ok = (
                status < 500 and status not in (401, 403, 404)
                if expected == "allowed"
                else status == int(expected)
            )
            if (
                route.path
                in (
                    "/api/auth/sessions/{session_id}",
                    "/api/auth/tokens/{token_id}",
                    "/api/notifications/{notification_id}/read",
                )
                and expected == "allowed"
            ):
                ok = status == 404  # someone else's (here: no) session is never visible
            if not ok:
                failures.append(
                    f"{method} {route.path} as {caller}: expected {expected}, got {status} {r.text[:120]}"
                )
            if expected != "allowed" and status in (401, 403, 404):
                assert "code" in r.json() and isinstance(r.json()["detail"], str)
            checked += 1
    assert checked > 25
    assert not failures, "\n".join(failures)
