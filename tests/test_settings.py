"""Settings: every contract variable, embedded defaults, and the generated secret key."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from mdreader.settings import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract.md"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings(_env_file=None)
    assert s.data_dir == Path("./data")
    assert s.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert s.resolved_database_url.endswith("/data/mdreader.db")
    assert s.redis_url is None and s.storage == "local" and s.email_backend == "console"
    assert s.public_url == "http://localhost:8000" and s.auth_provider == "local"
    assert s.email_from == "MDReader <no-reply@localhost>"
    assert s.access_token_ttl == 3600 and s.refresh_token_ttl == 7 * 24 * 3600


def test_secret_key_generated_once_and_private(tmp_path):
    s = Settings(data_dir=tmp_path / "d", _env_file=None)
    key = s.resolved_secret_key
    assert len(key) >= 64
    path = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "d", _env_file=None).resolved_secret_key == key


def test_every_contract_variable_is_read_from_the_environment(monkeypatch, tmp_path):
    env = {
        "MDREADER_DATA_DIR": str(tmp_path),
        "MDREADER_DATABASE_URL": "postgresql+asyncpg://u:p@db/mdreader",
        "MDREADER_READ_DATABASE_URL": "postgresql+asyncpg://u:p@replica/mdreader",
        "MDREADER_REDIS_URL": "redis://cache:6379/0",
        "MDREADER_SECRET_KEY": "k" * 64,
        "MDREADER_PUBLIC_URL": "https://docs.example.com",
        "MDREADER_STORAGE": "s3",
        "MDREADER_S3_BUCKET": "bucket",
        "MDREADER_S3_ENDPOINT_URL": "http://minio:9000",
        "MDREADER_EMAIL_BACKEND": "smtp",
        "MDREADER_SMTP_HOST": "mail",
        "MDREADER_SMTP_PORT": "2525",
        "MDREADER_SMTP_USER": "user",
        "MDREADER_SMTP_PASSWORD": "pw",
        "MDREADER_SMTP_STARTTLS": "true",
        "MDREADER_EMAIL_FROM": "Docs <docs@example.com>",
        "MDREADER_AUTH_PROVIDER": "cognito",
        "MDREADER_COGNITO_USER_POOL_ID": "us-east-1_abc",
        "MDREADER_COGNITO_CLIENT_ID": "client",
        "MDREADER_COGNITO_REGION": "us-east-1",
        "MDREADER_SECRETS_MANAGER_PREFIX": "mdreader/",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = Settings(_env_file=None)
    assert s.resolved_database_url == env["MDREADER_DATABASE_URL"]
    assert s.read_database_url == env["MDREADER_READ_DATABASE_URL"]
    assert s.redis_url == env["MDREADER_REDIS_URL"]
    assert s.resolved_secret_key == "k" * 64
    assert (s.storage, s.s3_bucket, s.s3_endpoint_url) == ("s3", "bucket", "http://minio:9000")
    assert (
        s.email_backend,
        s.smtp_host,
        s.smtp_port,
        s.smtp_user,
        s.smtp_password,
        s.smtp_starttls,
    ) == (
        "smtp",
        "mail",
        2525,
        "user",
        "pw",
        True,
    )
    assert s.email_from == "Docs <docs@example.com>"
    assert (s.auth_provider, s.cognito_user_pool_id, s.cognito_client_id, s.cognito_region) == (
        "cognito",
        "us-east-1_abc",
        "client",
        "us-east-1",
    )
    assert s.secrets_manager_prefix == "mdreader/"


def test_contract_variables_all_exist_and_are_documented():
    names = (
        set(re.findall(r"`(MDREADER_[A-Z_]+)`", CONTRACT.read_text()))
        if CONTRACT.exists()
        else set()
    )
    expanded = set()
    for name in names:
        expanded.add(name)
    fields = {f"MDREADER_{f.upper()}" for f in Settings.model_fields}
    readme = README.read_text()
    for name in expanded:
        assert name in fields, f"{name} from the contract is not a setting"
    for name in fields:
        assert name in readme, f"{name} is not documented in the README"


def test_bad_values_are_refused():
    with pytest.raises(ValidationError):
        Settings(storage="ftp", _env_file=None)
    with pytest.raises(ValidationError):
        Settings(storage="s3", _env_file=None)
    with pytest.raises(ValidationError):
        Settings(auth_provider="cognito", _env_file=None)
    with pytest.raises(ValidationError):
        Settings(environment="production", secret_key="changeme", _env_file=None)
