"""The document routes served before the router (fast/documents.py): the cached read gives the
route's answers, never older than the database; the PATCH answers as the route does; every
request is still authenticated and counted, and whatever is off the beaten path gets the
route's own answer."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader.db.models import Document
from mdreader.fast.documents import HotDocuments
from tests.conftest import Factory, make_settings, serving


def hot_layer(app: Any) -> HotDocuments:
    layer = app.middleware_stack
    while not isinstance(layer, HotDocuments):
        layer = layer.app
    return layer


async def _reader(client, factory: Factory, role: str = "viewer"):
    owner = await factory.user("owner")
    ws = await factory.workspace(owner)
    reader = await factory.member(ws, owner, role)
    doc = await factory.document(ws, owner, "Cached", "# Cached\n\nfirst")
    return owner, ws, reader, doc


async def caches(app: Any) -> bool:
    """Only where the database offers a change stamp; elsewhere nothing is kept."""
    return await app.state.services.db.change_stamp() is not None


async def warm(app: Any, client, url: str, user: Any) -> Any:
    """Read until the answer is in the cache, so that what follows is checked against a
    cached answer (a read during which a commit lands, a background one included, is not
    kept). Returns the answer."""
    key = (url.rsplit("/", 1)[1], uuid.UUID(user.id))
    for _ in range(10):
        r = await client.get(url, headers=user.headers)
        if key in hot_layer(app).cache or not await caches(app):
            return r
    raise AssertionError("the answer never stayed in the cache")


async def test_repeated_reads_are_identical_and_counted(client, factory: Factory, app):
    owner, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    first = await client.get(url, headers=reader.headers)
    assert first.status_code == 200 and first.json()["role"] == "viewer"
    hot = hot_layer(app)
    await warm(app, client, url, reader)
    again = [await client.get(url, headers=reader.headers) for _ in range(3)]
    assert len(hot.cache) == (1 if await caches(app) else 0)
    for r in again:
        assert r.status_code == 200
        assert r.content == first.content
        assert r.headers["content-type"] == first.headers["content-type"]
        assert r.headers["x-request-id"] != first.headers["x-request-id"]
    # The owner's answer is the owner's (role), not the viewer's.
    mine = await client.get(url, headers=owner.headers)
    assert mine.json()["role"] == "owner" and mine.json()["content"] == first.json()["content"]
    metrics = (await client.get("/metrics")).text
    assert _count(metrics, "GET", "200") >= 5


async def test_a_write_is_seen_at_once(client, factory: Factory, app):
    owner, _, reader, doc = await _reader(client, factory, "editor")
    url = f"/api/documents/{doc['id']}"
    assert (await warm(app, client, url, reader)).json()["title"] == "Cached"
    r = await client.patch(
        url, json={"title": "Renamed", "content": "second"}, headers=owner.headers
    )
    assert r.status_code == 200
    after = (await client.get(url, headers=reader.headers)).json()
    assert after["title"] == "Renamed" and after["content"] == "second"


async def test_a_write_by_another_connection_is_seen(client, factory: Factory, settings, app):
    """Another worker or the CLI writes through its own connection: the stamp moves too."""
    _, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await warm(app, client, url, reader)).json()["title"] == "Cached"
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(Document)
                .where(Document.id == uuid.UUID(doc["id"]))
                .values(title="From elsewhere")
            )
    finally:
        await engine.dispose()
    assert (await client.get(url, headers=reader.headers)).json()["title"] == "From elsewhere"


async def test_removed_member_and_trashed_document_are_not_served(client, factory: Factory, app):
    owner, ws, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await warm(app, client, url, reader)).status_code == 200
    r = await client.delete(
        f"/api/workspaces/{ws['id']}/members/{reader.id}", headers=owner.headers
    )
    assert r.status_code == 204
    assert (await client.get(url, headers=reader.headers)).status_code == 404
    assert (await client.get(url, headers=owner.headers)).status_code == 200
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404


async def test_every_request_is_authenticated(client, factory: Factory, app):
    _, _, reader, doc = await _reader(client, factory)
    url = f"/api/documents/{doc['id']}"
    assert (await warm(app, client, url, reader)).status_code == 200
    assert (await client.get(url)).status_code == 401
    bad = {"Authorization": reader.headers["Authorization"][:-2] + "xx"}
    assert (await client.get(url, headers=bad)).status_code == 401
    r = await client.post("/api/auth/logout", json={"refresh_token": reader.refresh_token})
    assert r.status_code in (200, 204)
    assert (await client.get(url, headers=reader.headers)).status_code == 401


def _count(metrics: str, method: str, status: str) -> float:
    line = re.search(
        rf'mdreader_http_requests_total\{{method="{method}",route="/api/documents/\{{document_id\}}",'
        rf'status="{status}"\}} (\d+)',
        metrics,
    )
    return float(line.group(1)) if line else 0.0


async def test_patch_answers_as_the_route_does(client, factory: Factory, app, monkeypatch):
    from mdreader.fast import documents as layer

    _, _, editor, doc = await _reader(client, factory, "editor")
    url = f"/api/documents/{doc['id']}"
    served_here = []
    real_apply = layer.apply_patch

    async def counted(*args: Any) -> Any:
        served_here.append(1)
        return await real_apply(*args)

    monkeypatch.setattr(layer, "apply_patch", counted)
    hot = await client.patch(url, json={"title": "Via hot"}, headers=editor.headers)
    assert served_here == [1]  # answered before the router
    # A query string sends the request on to the router: the route's own answer.
    routed = await client.patch(
        url + "?via=route", json={"title": "Via hot"}, headers=editor.headers
    )
    assert served_here == [1]
    assert hot.status_code == routed.status_code == 200
    h, r = hot.json(), routed.json()
    assert h.pop("updated_at") <= r.pop("updated_at")
    assert h == r and h["role"] == "editor" and h["title"] == "Via hot"
    assert hot.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert "x-request-id" in hot.headers
    metrics = (await client.get("/metrics")).text
    assert _count(metrics, "PATCH", "200") >= 2


async def test_patch_off_the_beaten_path_gets_the_routes_answers(client, factory: Factory):
    owner, _, viewer, doc = await _reader(client, factory, "viewer")
    outsider = await factory.user("outsider")
    url = f"/api/documents/{doc['id']}"
    cases = [
        ({"json": {"title": ""}, "headers": owner.headers}, 422, "validation_error"),
        ({"json": {"position": -1}, "headers": owner.headers}, 422, "validation_error"),
        (
            {
                "content": b"{not json",
                "headers": {**owner.headers, "Content-Type": "application/json"},
            },
            422,
            "validation_error",
        ),
        (
            {"content": b"title=x", "headers": {**owner.headers, "Content-Type": "text/plain"}},
            422,
            "validation_error",
        ),
        ({"json": {"title": "x"}}, 401, "not_authenticated"),
        ({"json": {"title": "x"}, "headers": outsider.headers}, 404, "not_found"),
        ({"json": {"title": "x"}, "headers": viewer.headers}, 403, "forbidden"),
        ({"json": {"parent_id": doc["id"]}, "headers": owner.headers}, 409, "cycle"),
        ({"json": {"content": "x" * 3_000_000}, "headers": owner.headers}, 413, "too_large"),
    ]
    for kwargs, status, code in cases:
        r = await client.patch(url, **kwargs)
        assert (r.status_code, r.json()["code"]) == (status, code), (kwargs.get("json"), r.text)
        assert isinstance(r.json()["detail"], (str, list))
    assert (await client.get(url, headers=owner.headers)).json()["title"] == "Cached"
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    r = await client.patch(url, json={"title": "Gone"}, headers=owner.headers)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_patch_failure_of_ours_is_a_500_in_the_error_shape(
    client, factory: Factory, monkeypatch
):
    from mdreader.fast import documents as hot

    owner, _, _, doc = await _reader(client, factory)

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(hot, "apply_patch", broken)
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"title": "x"}, headers=owner.headers
    )
    assert r.status_code == 500 and r.json() == {
        "detail": "Something went wrong on our side.",
        "code": "internal_error",
    }


async def test_patch_guard_failure_goes_to_the_route(client, factory: Factory, monkeypatch):
    """A failure in the hot path's guard (the database, say) leaves the answer to the route
    and its error handling."""
    from mdreader.fast import documents as hot

    owner, _, _, doc = await _reader(client, factory)

    failed = []

    async def broken(*_args: Any, **_kw: Any) -> Any:
        failed.append(1)
        raise ConnectionError("the database went away")

    monkeypatch.setattr(hot, "document_access", broken)
    r = await client.patch(
        f"/api/documents/{doc['id']}", json={"title": "Via route"}, headers=owner.headers
    )
    assert failed == [1]
    assert r.status_code == 200 and r.json()["title"] == "Via route"


async def test_patch_reads_the_id_as_the_route_does(client, factory: Factory):
    owner, _, _, doc = await _reader(client, factory)
    odd = doc["id"].replace("-", "")
    odd = f"{odd[:8]}-{odd[8:16]}-{odd[16:20]}-{odd[20:]}"  # hyphens in the wrong places
    r = await client.patch(f"/api/documents/{odd}", json={"title": "x"}, headers=owner.headers)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    simple = doc["id"].replace("-", "")
    r = await client.patch(
        f"/api/documents/{simple}", json={"title": "Simple"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["id"] == doc["id"]


async def test_cached_reads_count_against_the_request_limit(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, rate_limit_requests=12)
    async with serving(settings, outbox) as (app, factory):
        owner = await factory.user("owner")  # register + login: 2 requests
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner)
        url = f"/api/documents/{doc['id']}"
        await warm(app, factory.client, url, owner)
        statuses = [
            (await factory.client.get(url, headers=owner.headers)).status_code for _ in range(12)
        ]
        assert statuses[-1] == 429 and statuses.count(200) >= 1


async def test_without_fast_paths_the_answers_are_the_same(tmp_path, database_url, outbox):
    """MDREADER_FAST_PATHS=false: no layer before the router and no stamp; the routes give
    the same answers."""
    settings = make_settings(tmp_path, database_url, fast_paths=False)
    async with serving(settings, outbox) as (app, factory):
        client = factory.client
        _, _, editor, doc = await _reader(client, factory, "editor")
        url = f"/api/documents/{doc['id']}"
        assert await app.state.services.db.change_stamp() is None
        first = await client.get(url, headers=editor.headers)
        assert first.status_code == 200 and first.json()["content"] == "# Cached\n\nfirst"
        patched = await client.patch(url, json={"title": "Routed"}, headers=editor.headers)
        assert patched.status_code == 200 and patched.json()["title"] == "Routed"
        again = await client.get(url, headers=editor.headers)
        assert again.json()["title"] == "Routed" and again.json()["role"] == "editor"
        layer = app.middleware_stack
        while hasattr(layer, "app"):
            assert not isinstance(layer, HotDocuments)
            layer = layer.app
