"""The Lambda handler with API Gateway REST API (v1) and HTTP API (v2) events."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mdreader import __version__
from mdreader.lambda_handler import LambdaApp
from tests.conftest import PASSWORD, Outbox


class Context:
    function_name = "mdreader"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def rest_event(method: str, path: str, body: Any = None, headers: dict | None = None) -> dict:
    """What API Gateway's REST API (payload v1.0) sends for a {proxy+} resource."""
    headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    raw = json.dumps(body) if body is not None else None
    if raw is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "test"},
        },
        "body": raw,
        "isBase64Encoded": False,
    }


def http_event(method: str, path: str, body: Any = None, headers: dict | None = None) -> dict:
    """What an HTTP API (payload v2.0) sends."""
    headers = {"host": "abc.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    raw = None
    if body is not None:
        headers["content-type"] = "application/json"
        raw = base64.b64encode(json.dumps(body).encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": raw,
        "isBase64Encoded": raw is not None,
    }


@pytest.fixture
def lambda_app(settings) -> Iterator[LambdaApp]:
    app = LambdaApp(settings, mailer=Outbox())
    try:
        yield app
    finally:
        app.close()


def body_of(response: dict) -> Any:
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


@pytest.mark.parametrize("event", [rest_event, http_event], ids=["rest-v1", "http-v2"])
def test_health_and_an_authenticated_route(lambda_app: LambdaApp, event):
    r = lambda_app(event("GET", "/health"), Context())
    assert r["statusCode"] == 200
    assert body_of(r) == {"status": "healthy", "version": __version__}

    email = f"lambda-{uuid.uuid4().hex[:6]}@example.com"
    r = lambda_app(
        event("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "L"}),
        Context(),
    )
    assert r["statusCode"] == 201, r
    r = lambda_app(
        event("POST", "/api/auth/login", {"email": email, "password": PASSWORD}), Context()
    )
    assert r["statusCode"] == 200, r
    token = body_of(r)["access_token"]
    assert lambda_app(event("GET", "/api/auth/me"), Context())["statusCode"] == 401
    r = lambda_app(
        event("GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"}), Context()
    )
    assert r["statusCode"] == 200
    assert body_of(r)["email"] == email
    # The lifespan ran once and is reused while warm.
    assert lambda_app.app.state.services is lambda_app.app.state.services


def test_module_handler_builds_from_the_environment(monkeypatch, tmp_path):
    import mdreader.lambda_handler as module

    monkeypatch.setenv("MDREADER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MDREADER_SECRET_KEY", "k" * 64)
    monkeypatch.setenv("MDREADER_WEB_DIST", str(tmp_path / "none"))
    monkeypatch.delenv("MDREADER_REDIS_URL", raising=False)
    monkeypatch.setattr(module, "_app", None)
    from mdreader.db import migrate

    migrate(f"sqlite+aiosqlite:///{tmp_path / 'mdreader.db'}")
    try:
        r = module.handler(http_event("GET", "/health/ready"), Context())
        assert r["statusCode"] == 200, r
    finally:
        if module._app is not None:
            module._app.close()


def test_binary_upload_and_download_through_http_api(lambda_app: LambdaApp):
    import httpx

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    email = f"files-{uuid.uuid4().hex[:6]}@example.com"
    lambda_app(
        http_event(
            "POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "F"}
        ),
        Context(),
    )
    login = lambda_app(
        http_event("POST", "/api/auth/login", {"email": email, "password": PASSWORD}), Context()
    )
    auth = {"Authorization": f"Bearer {body_of(login)['access_token']}"}
    r = lambda_app(http_event("POST", "/api/workspaces", {"name": "W"}, auth), Context())
    workspace_id = body_of(r)["id"]
    form = httpx.Request("POST", "http://x/", files={"file": ("p.png", png, "image/png")})
    event = http_event("POST", f"/api/workspaces/{workspace_id}/files", headers=auth)
    event["headers"]["content-type"] = form.headers["content-type"]
    event["body"] = base64.b64encode(form.read()).decode()
    event["isBase64Encoded"] = True
    r = lambda_app(event, Context())
    assert r["statusCode"] == 201, r
    r = lambda_app(http_event("GET", body_of(r)["url"], headers=auth), Context())
    assert r["statusCode"] == 200
    assert r["isBase64Encoded"] is True
    assert base64.b64decode(r["body"]) == png
    assert r["headers"]["x-content-type-options"] == "nosniff"


def test_behind_cloudfront_only_the_origin_secret_gets_in(settings, moto, caplog):
    """The function behind CloudFront: the secret origin header from Secrets Manager (moto),
    read again after a rotation; the viewer's address, not the edge's, reaches the app."""
    import logging

    from mdreader.backends.secrets import SecretsManagerSource
    from mdreader.lambda_handler import OriginSecret

    sm = moto.client("secretsmanager")
    name = f"mdreader-{uuid.uuid4().hex[:8]}/origin-verify"
    sm.create_secret(Name=name, SecretString="first-origin-value")
    source = SecretsManagerSource(sm)
    app = LambdaApp(settings, mailer=Outbox(), origin_secret=OriginSecret(name, source.get))
    edge, viewer = "130.176.1.20", "198.51.100.44"
    through_cloudfront = {"x-forwarded-for": f"203.0.113.1, {viewer}, {edge}"}
    try:
        direct = app(http_event("GET", "/health"), Context())
        assert direct["statusCode"] == 403
        assert body_of(direct)["code"] == "forbidden"
        wrong = http_event("GET", "/health", headers={"x-origin-verify": "guess"})
        assert app(wrong, Context())["statusCode"] == 403

        caplog.set_level(logging.INFO, logger="mdreader.access")
        ok = http_event(
            "POST",
            "/api/auth/login",
            {"email": "nobody@example.com", "password": "Wrong-pass-1"},
            headers={"x-origin-verify": "first-origin-value", **through_cloudfront},
        )
        ok["requestContext"]["http"]["sourceIp"] = edge
        assert app(ok, Context())["statusCode"] == 401
        logged = [getattr(r, "client", None) for r in caplog.records if r.name == "mdreader.access"]
        assert logged[-1] == viewer

        # Rotation: CloudFront now sends the new value; the function reads the secret again.
        sm.put_secret_value(SecretId=name, SecretString="second-origin-value")
        app.origin_secret._read_at -= 120  # a minute since the last read
        rotated = http_event("GET", "/health", headers={"x-origin-verify": "second-origin-value"})
        assert app(rotated, Context())["statusCode"] == 200
    finally:
        app.close()


def test_the_signing_key_comes_from_secrets_manager(moto, tmp_path, monkeypatch):
    """No MDREADER_SECRET_KEY in the function's environment: the prefix reads <prefix>secret-key."""
    from mdreader.auth.tokens import decode_access_token
    from tests.conftest import make_settings

    prefix = f"mdreader-{uuid.uuid4().hex[:8]}/"
    moto.client("secretsmanager").create_secret(Name=f"{prefix}secret-key", SecretString="k" * 64)
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'l.db'}",
        secret_key=None,
        secrets_manager_prefix=prefix,
    )
    from mdreader.db import migrate

    migrate(settings.resolved_database_url)
    outbox = Outbox()
    app = LambdaApp(settings, mailer=outbox)
    try:
        assert app.app.state.settings.resolved_secret_key == "k" * 64
        email = f"k-{uuid.uuid4().hex[:6]}@example.com"
        reg = http_event(
            "POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "K"}
        )
        assert app(reg, Context())["statusCode"] == 201
        login = http_event("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
        token = body_of(app(login, Context()))["access_token"]
        assert decode_access_token("k" * 64, token) is not None
    finally:
        app.close()
