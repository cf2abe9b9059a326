"""Secrets Manager (moto in server mode) → database, replica, Redis URLs and the secret key."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

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
from tests.conftest import BACKEND, Moto, make_settings, unavailable


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


if BACKEND == "postgresql":  # the PostgreSQL pass (no skip in the SQLite one)

    @pytest.fixture
    def password_postgres():
        """A PostgreSQL server of the test's own that checks passwords (the machine's trusts
        every local login, so it could not refuse a rotated-away password)."""
        import shutil
        import subprocess

        from support.scratch import free_port

        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindir or shutil.which("runuser") is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) and runuser")
        bindir = bindir[-1]
        import tempfile

        # Outside pytest's tmp dirs, which the postgres user may not enter.
        root = Path(tempfile.mkdtemp(prefix="mdreader-pg-"))
        shutil.chown(root, "postgres")
        data = root / "pg"
        data.mkdir()
        shutil.chown(data, "postgres")
        pw = root / "pw"
        pw.write_text("Admin-pass-1\n")
        shutil.chown(pw, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [
                *as_pg,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "admin",
                "--pwfile",
                str(pw),
                "--auth=scram-sha-256",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        subprocess.run(
            [
                *as_pg,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(data / "log"),
                "-o",
                f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        try:
            yield f"postgresql+asyncpg://admin:Admin-pass-1@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
            shutil.rmtree(root, ignore_errors=True)

    async def test_a_rotated_password_is_read_again_from_the_secret(
        moto: Moto, prefix_name: str, tmp_path, password_postgres, caplog
    ):
        from support.scratch import pg_admin

        from mdreader.backends.secrets import DatabaseCredentials
        from mdreader.db import Database

        await pg_admin(password_postgres, "CREATE ROLE app LOGIN PASSWORD 'First-pass-1'")
        host = make_url(password_postgres)
        sm = moto.client("secretsmanager")
        # The RDS-managed credentials, and the connection secret that points at them.
        managed = sm.create_secret(
            Name=f"rds!{uuid.uuid4().hex[:8]}",
            SecretString=json.dumps({"username": "app", "password": "First-pass-1"}),
        )["ARN"]
        sm.create_secret(
            Name=f"{prefix_name}database",
            SecretString=json.dumps(
                {
                    "host": host.host,
                    "port": host.port,
                    "dbname": "postgres",
                    "engine": "postgres",
                    "credentials_secret": managed,
                }
            ),
        )
        settings = apply_secrets(
            make_settings(tmp_path, "sqlite+aiosqlite://", secrets_manager_prefix=prefix_name),
            SecretsManagerSource(moto.client("secretsmanager")),
        )
        assert make_url(settings.database_url).password == "First-pass-1"
        db = Database(
            settings.database_url,
            credentials=DatabaseCredentials(
                prefix_name, SecretsManagerSource(moto.client("secretsmanager"))
            ),
        )
        try:
            await db.ping()
            # Rotation: the database and the managed secret get a new password.
            await pg_admin(password_postgres, "ALTER ROLE app PASSWORD 'Second-pass-2'")
            sm.put_secret_value(
                SecretId=managed,
                SecretString=json.dumps({"username": "app", "password": "Second-pass-2"}),
            )
            await db.engine.dispose()  # new connections from here on
            await db.ping()  # refused with the old password, retried with the secret's
            assert "refused the primary password" in caplog.text
            await db.engine.dispose()
            await db.ping()  # and the new one is used from the start
        finally:
            await db.dispose()
