"""The web app's Content-Security-Policy (csp.py): sent with the app and the share page,
allowing this origin's scripts and nothing else's; the browser side (no violation while
the app and the share page are used) is checked by every web/e2e script (lib.mjs)."""

from __future__ import annotations

from pathlib import Path

import httpx

from mdreader.csp import content_security_policy
from mdreader.settings import Settings
from tests.conftest import make_settings, serving


def directives(policy: str) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in policy.split(";"))


def test_the_policy_allows_this_origin_and_nothing_else_to_run():
    csp = directives(content_security_policy(Settings(_env_file=None)))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no inline script, no eval, no other host
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert csp["connect-src"] == "'self' ws://localhost:8000"
    assert "'unsafe-inline'" not in csp["script-src"] and "*" not in content_security_policy(
        Settings(_env_file=None)
    )


def test_file_downloads_redirected_to_storage_are_allowed_there():
    cdn = Settings(
        _env_file=None,
        public_url="https://docs.example.com",
        storage="s3",
        s3_bucket="files",
        cdn_base_url="https://d1234.cloudfront.net/",
    )
    csp = directives(content_security_policy(cdn))
    assert csp["connect-src"] == "'self' wss://docs.example.com https://d1234.cloudfront.net"
    proxied = cdn.model_copy(update={"s3_downloads": "proxy"})
    assert "cloudfront" not in content_security_policy(proxied)


async def test_the_web_app_and_the_share_page_send_it(tmp_path: Path, database_url, outbox):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>MDReader</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    settings = make_settings(tmp_path, database_url, web_dist=dist)
    expected = content_security_policy(settings)
    async with serving(settings, outbox) as (_app, factory):
        c: httpx.AsyncClient = factory.client
        for path in ("/", "/w/some/client/route", "/assets/app.js"):
            r = await c.get(path)
            assert r.status_code == 200 and r.headers["content-security-policy"] == expected
        owner = await factory.user("owner")
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Doc", "text")
        r = await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=owner.headers)
        page = await c.get(f"/s/{r.json()['token']}")
        assert page.headers["content-security-policy"] == expected
