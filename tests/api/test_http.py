"""Health, readiness, metrics, request ids, JSON logs and the error shape."""

from __future__ import annotations

import json
import logging

from mdreader import __version__
from mdreader.observability import JsonFormatter


async def test_health(client):
    r = await client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "healthy", "version": __version__}


async def test_ready_and_not_ready(client, app):
    r = await client.get("/health/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    services = app.state.services

    async def broken() -> None:
        raise ConnectionError("database is down")

    original = services.db.ping
    services.db.ping = broken
    try:
        r = await client.get("/health/ready")
    finally:
        services.db.ping = original
    assert r.status_code == 503
    assert "database" in r.json()["failed"] and r.json()["code"] == "not_ready"


async def test_metrics_by_route_template(client, factory):
    user = await factory.user()
    ws = await factory.workspace(user)
    await client.get(f"/api/workspaces/{ws['id']}", headers=user.headers)
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'mdreader_http_requests_total{method="GET",route="/api/workspaces/{workspace_id}",status="200"} 1.0'
        in text
    )
    assert (
        'mdreader_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/workspaces/{workspace_id}"}'
        in text
    )
    assert ws["id"] not in text, "raw ids must not become label values"


async def test_request_id_echoed_or_made(client):
    r = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/health")
    assert len(r.headers["x-request-id"]) == 32


async def test_access_log_is_json_with_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="mdreader.access")
    await client.get("/api/auth/me", headers={"X-Request-ID": "req-42"})
    records = [r for r in caplog.records if r.name == "mdreader.access"]
    assert records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["route"] == "/api/auth/me" and line["status"] == 401 and line["method"] == "GET"
    assert "duration_ms" in line


async def test_error_shapes(client, factory):
    r = await client.get("/api/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not found.", "code": "not_found"}
    r = await client.put("/api/auth/login", json={})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = await client.post("/api/auth/login", json={"email": "a"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert isinstance(r.json()["detail"], list)


async def test_huge_and_malformed_bodies_are_4xx(client, factory):
    user = await factory.user()
    ws = await factory.workspace(user)
    url = f"/api/workspaces/{ws['id']}/documents"
    huge = b'{"title": "x", "content": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    r = await client.post(
        url, content=huge, headers={**user.headers, "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "too_large"

    async def chunks():
        for _ in range(40):
            yield b"a" * 100_000

    r = await client.post(
        url, content=chunks(), headers={**user.headers, "content-type": "application/json"}
    )
    assert r.status_code == 413
    for bad in [
        b"{",
        b"null",
        b'{"title": null}',
        b'{"title": "\\ud800"}',
        '{"title": "\u0000"}'.encode(),
    ]:
        r = await client.post(
            url, content=bad, headers={**user.headers, "content-type": "application/json"}
        )
        assert 400 <= r.status_code < 500 or r.status_code == 201, (bad, r.status_code)
    r = await client.post(
        url,
        content=b"title=x",
        headers={**user.headers, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422
    r = await client.post(
        url,
        content=b"{}",
        headers={**user.headers, "content-length": "abc", "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500


async def test_spa_fallback(tmp_path, settings, outbox):
    import httpx

    from mdreader.app import create_app

    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    settings.web_dist = dist
    app = create_app(settings, mailer=outbox)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        r = await c.get("/")
        assert r.status_code == 200 and "root" in r.text
        r = await c.get("/w/123/doc/456")
        assert r.status_code == 200 and "root" in r.text
        r = await c.get("/assets/app.js")
        assert "immutable" in r.headers["cache-control"]
        r = await c.get("/../../etc/passwd")
        assert "root:" not in r.text
        r = await c.get("/api/unknown")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
