"""The global /api limit per client address (the WAF rule's twin), and login's stricter one."""

from __future__ import annotations

import httpx

from mdreader.app import create_app
from tests.conftest import make_settings


async def test_api_limit_per_address_answers_429_with_retry_after(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, rate_limit_requests=5, rate_limit_window=300)
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        one = httpx.ASGITransport(app=app, client=("198.51.100.1", 1))
        two = httpx.ASGITransport(app=app, client=("198.51.100.2", 1))
        async with (
            httpx.AsyncClient(transport=one, base_url="http://t") as a,
            httpx.AsyncClient(transport=two, base_url="http://t") as b,
        ):
            statuses = [(await a.get("/api/auth/me")).status_code for _ in range(5)]
            assert statuses == [401] * 5
            r = await a.get("/api/workspaces")
            assert r.status_code == 429
            assert r.json()["code"] == "rate_limited"
            assert isinstance(r.json()["detail"], str)
            assert 0 < int(r.headers["retry-after"]) <= 300
            # Another address is counted on its own; health and metrics are not limited.
            assert (await b.get("/api/auth/me")).status_code == 401
            assert (await a.get("/health")).status_code == 200
            assert (await a.get("/metrics")).status_code == 200


async def test_limit_zero_turns_it_off(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url, rate_limit_requests=0)
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for _ in range(20):
                assert (await c.get("/api/auth/me")).status_code == 401


async def test_defaults_follow_the_waf_rule_and_login_stays_stricter():
    from mdreader.settings import Settings

    s = Settings(_env_file=None)
    assert (s.rate_limit_requests, s.rate_limit_window) == (1000, 300)
    assert s.login_max_failures_per_ip < s.rate_limit_requests
