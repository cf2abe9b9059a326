"""Connection secrets from AWS Secrets Manager, applied to the settings at start-up.

With ``MDREADER_SECRETS_MANAGER_PREFIX=mdreader/`` these secrets are read (each optional):

- ``mdreader/database`` and ``mdreader/database-read``: the JSON AWS keeps for an RDS
  database, ``{"username", "password", "host", "port", "dbname", "engine"}``, become
  ``MDREADER_DATABASE_URL`` and ``MDREADER_READ_DATABASE_URL``. Instead of ``username`` and
  ``password`` the JSON may name ``credentials_secret``: the secret RDS manages and rotates
  for the instance (``ManageMasterUserPassword``), read for them;
- ``mdreader/redis``: ``{"host", "port", "auth_token", "tls"}`` becomes ``MDREADER_REDIS_URL``
  (``rediss://`` when ``tls``);
- ``mdreader/secret-key``: the token-signing key (a plain string, or ``{"secret_key": ...}``);
- ``mdreader/cloudfront-key``: the PEM private key signing CloudFront URLs of uploads.

When the prefix is set, a secret that exists wins over the environment. After a rotation
the database refuses the old password: ``DatabaseCredentials`` reads the secrets again, and
the engine retries the connection with what they hold now (``mdreader.db.engine``).
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from mdreader.settings import Settings

DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "aurora-postgresql": "postgresql+asyncpg",
}


class SecretError(ValueError):
    """A secret exists but does not have the expected shape."""


class SecretSource(Protocol):
    def get(self, name: str) -> str | None:
        """The secret's string, or None when there is no such secret."""


class SecretsManagerSource:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, name: str) -> str | None:
        try:
            response = self.client.get_secret_value(SecretId=name)
        except self.client.exceptions.ResourceNotFoundException:
            return None
        value = response.get("SecretString")
        if value is None and response.get("SecretBinary") is not None:
            value = response["SecretBinary"].decode()
        return None if value is None else str(value)


def _json(name: str, raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise SecretError(f"secret {name} is not JSON") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {name} is not a JSON object")
    return value


def database_url(name: str, raw: str, source: SecretSource | None = None) -> str:
    data = _json(name, raw)
    linked = data.get("credentials_secret")
    if linked and source is not None:
        linked_raw = source.get(str(linked))
        if linked_raw is None:
            raise SecretError(f"secret {name} names credentials_secret {linked}, which is missing")
        credentials = _json(str(linked), linked_raw)
        data = {**data, **{k: credentials.get(k) for k in ("username", "password")}}
    missing = [k for k in ("username", "password", "host") if not data.get(k)]
    if missing:
        raise SecretError(f"secret {name} lacks {', '.join(missing)}")
    engine = str(data.get("engine") or "postgres").lower()
    if engine not in DRIVERS:
        raise SecretError(f"secret {name}: engine {engine!r} is not supported (PostgreSQL only)")
    url = URL.create(
        DRIVERS[engine],
        username=str(data["username"]),
        password=str(data["password"]),
        host=str(data["host"]),
        port=int(data.get("port") or 5432),
        database=str(data.get("dbname") or "postgres"),
    )
    return url.render_as_string(hide_password=False)


def redis_url(name: str, raw: str) -> str:
    data = _json(name, raw)
    if not data.get("host"):
        raise SecretError(f"secret {name} lacks host")
    tls = data.get("tls", False)
    if isinstance(tls, str):
        tls = tls.strip().lower() in ("1", "true", "yes", "on")
    scheme = "rediss" if tls else "redis"
    token = data.get("auth_token") or data.get("password")
    auth = f":{quote(str(token), safe='')}@" if token else ""
    db = int(data.get("db") or 0)
    return f"{scheme}://{auth}{data['host']}:{int(data.get('port') or 6379)}/{db}"


def secret_key(name: str, raw: str) -> str:
    value = raw.strip()
    if value.startswith("{"):
        data = _json(name, value)
        value = str(data.get("secret_key") or data.get("value") or "")
    if not value:
        raise SecretError(f"secret {name} is empty")
    return value


def settings_from_secrets(settings: Settings, source: SecretSource) -> dict[str, str]:
    prefix = settings.secrets_manager_prefix or ""
    updates: dict[str, str] = {}
    for suffix, field, parse in (
        ("database", "database_url", database_url),
        ("database-read", "read_database_url", database_url),
        ("redis", "redis_url", redis_url),
        ("secret-key", "secret_key", secret_key),
        ("cloudfront-key", "cloudfront_private_key", secret_key),
    ):
        name = prefix + suffix
        raw = source.get(name)
        if raw is not None:
            updates[field] = (
                database_url(name, raw, source) if parse is database_url else parse(name, raw)
            )
    return updates


class DatabaseCredentials:
    """The database user and password as the secrets hold them now: asked by the engine
    when the database refuses a connection's password (after a rotation)."""

    def __init__(self, prefix: str, source: SecretSource) -> None:
        self.prefix = prefix
        self.source = source

    def __call__(self, role: str) -> tuple[str, str] | None:
        name = self.prefix + ("database" if role == "primary" else "database-read")
        raw = self.source.get(name)
        if raw is None:
            return None
        url = make_url(database_url(name, raw, self.source))
        if url.username is None or url.password is None:
            return None
        return url.username, str(url.password)


def secrets_source() -> SecretSource:
    import boto3

    return SecretsManagerSource(boto3.client("secretsmanager"))


def apply_secrets(settings: Settings, source: SecretSource | None = None) -> Settings:
    """The settings with the secrets filled in; unchanged without a prefix."""
    if not settings.secrets_manager_prefix:
        return settings
    if source is None:
        source = secrets_source()
    updates = settings_from_secrets(settings, source)
    if not updates:
        return settings
    values = {name: getattr(settings, name) for name in Settings.model_fields}
    values.update(updates)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
