"""Secrets Manager (moto in server mode) → database, replica, Redis URLs and the secret key."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy.engine import make_url

from mdreader.app import create_app
from mdreader.backends.secrets import (
    SecretError,
    SecretsManagerSource,
    apply_secrets,
    database_url,
    redis_url,
)
from mdreader.settings import Settings
from tests.conftest import Moto, make_settings


@pytest.fixture
def prefix_name() -> str:
    return f"mdreader-{uuid.uuid4().hex[:8]}/"


def rds_secret(host: str, password: str = "p@ss:w/rd") -> str:
    return json.dumps(
        {
            "username": "mdreader",
            "password": password,
            "host": host,
            "port": 5432,
            "dbname": "docs",
            "engine": "postgres",
        }
    )


async def test_secrets_become_urls_at_startup(moto: Moto, prefix_name: str, tmp_path):
    sm = moto.client("secretsmanager")
    sm.create_secret(Name=prefix_name + "database", SecretString=rds_secret("db.internal"))
    sm.create_secret(
        Name=prefix_name + "database-read", SecretString=rds_secret("replica.internal")
    )
    sm.create_secret(
        Name=prefix_name + "redis",
        SecretString=json.dumps(
            {"host": "cache.internal", "port": 6380, "auth_token": "t/k+n", "tls": True}
        ),
    )
    sm.create_secret(Name=prefix_name + "secret-key", SecretString="k" * 64)
    base = make_settings(tmp_path, "sqlite+aiosqlite://", secrets_manager_prefix=prefix_name)
    settings = apply_secrets(base)  # the default source: boto3 against the environment's endpoint
    url = make_url(settings.database_url)
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+asyncpg",
        "mdreader",
        "p@ss:w/rd",
        "db.internal",
        5432,
        "docs",
    )
    assert make_url(settings.read_database_url).host == "replica.internal"
    assert settings.redis_url == "rediss://:t%2Fk%2Bn@cache.internal:6380/0"
    assert settings.secret_key == "k" * 64
    # Everything else is kept.
    assert settings.data_dir == base.data_dir
    assert settings.environment == "test"


async def test_missing_secrets_leave_settings_alone(moto: Moto, prefix_name: str, tmp_path):
    sm = moto.client("secretsmanager")
    sm.create_secret(Name=prefix_name + "secret-key", SecretString='{"secret_key": "abc"}')
    base = make_settings(tmp_path, "sqlite+aiosqlite:///x.db", secrets_manager_prefix=prefix_name)
    settings = apply_secrets(base, SecretsManagerSource(sm))
    assert settings.database_url == "sqlite+aiosqlite:///x.db"
    assert settings.secret_key == "abc"
    assert apply_secrets(make_settings(tmp_path, "sqlite+aiosqlite://")) is not None


async def test_app_applies_the_secrets_at_startup(
    moto: Moto, prefix_name: str, tmp_path, database_url, outbox
):
    """create_app applies the secrets before it builds anything (here: the signing key)."""
    sm = moto.client("secretsmanager")
    sm.create_secret(Name=prefix_name + "secret-key", SecretString="from-secrets-manager-" * 3)
    settings = make_settings(tmp_path, database_url, secrets_manager_prefix=prefix_name)
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        assert app.state.services.secret_key == "from-secrets-manager-" * 3
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/health/ready")).status_code == 200


def test_secret_shapes():
    assert redis_url("r", '{"host": "h", "tls": false}') == "redis://h:6379/0"
    assert redis_url("r", '{"host": "h", "port": "7000", "tls": "true"}') == "rediss://h:7000/0"
    with pytest.raises(SecretError):
        database_url("d", "not json")
    with pytest.raises(SecretError):
        database_url("d", '{"username": "u", "password": "p", "host": "h", "engine": "mysql"}')
    with pytest.raises(SecretError):
        database_url("d", '{"username": "u"}')
    with pytest.raises(SecretError):
        redis_url("r", "[]")
    assert Settings(_env_file=None).secrets_manager_prefix is None
