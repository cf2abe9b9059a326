"""Configuration: every variable of the contract, validated once at start-up.

Values come from the environment (prefix ``MDREADER_``) or a ``.env`` file. The embedded
defaults need nothing installed: SQLite and files in the data directory, in-process cache
and bus, e-mail printed to the console.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"
DEFAULT_EMAIL_FROM = "MDReader <no-reply@localhost>"
DEFAULT_UPLOAD_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "application/pdf",
    "text/plain",
    "text/markdown",
    "text/csv",
)


class OidcProviderSettings(BaseModel):
    """One OpenID Connect provider of ``MDREADER_OIDC_PROVIDERS`` (a JSON list of these)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")  # in URLs: /api/auth/oidc/NAME/...
    label: str = ""  # the sign-in button's text; the name when empty
    issuer: str  # discovery at ISSUER/.well-known/openid-configuration
    client_id: str
    client_secret: str = Field(default="", repr=False)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    # E-mail domains whose people may sign in here (any when empty), e.g. ["example.com"].
    allowed_domains: list[str] = Field(default_factory=list)
    create_users: bool = True  # a first sign-in with an unknown address makes an account

    @property
    def display_name(self) -> str:
        return self.label or self.name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MDREADER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Contract variables
    data_dir: Path = Path("./data")
    database_url: str | None = None
    read_database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    public_url: str = "http://localhost:8000"
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    cdn_base_url: str | None = None
    s3_url_ttl: int = 300
    s3_downloads: Literal["redirect", "proxy"] = "redirect"
    cloudfront_key_id: str | None = None
    cloudfront_private_key: str | None = Field(default=None, repr=False)
    email_backend: Literal["console", "smtp", "ses"] = "console"
    email_from: str = DEFAULT_EMAIL_FROM
    email_retry_delay: float = Field(default=30.0, gt=0)
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    ses_region: str | None = None
    auth_provider: Literal["local", "cognito"] = "local"
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_region: str | None = None
    cognito_domain: str | None = None
    cognito_identity_providers: list[str] = Field(default_factory=list)
    secrets_manager_prefix: str | None = None
    origin_secret_name: str | None = None
    cognito_jwks_url: str | None = None
    # Single sign-on (auth/oidc.py) and whether MDReader's own password form is offered.
    oidc_providers: list[OidcProviderSettings] = Field(default_factory=list)
    password_login: bool = True

    # Operational settings (documented in the README)
    environment: Literal["development", "production", "test"] = "development"
    log_level: str = "INFO"
    log_json: bool = True
    web_dist: Path | None = None
    trusted_proxies: list[str] = Field(default_factory=list)
    client_ip_header: str | None = None
    db_pool_size: int = 20
    migrate_on_start: bool = True
    db_echo: bool = False
    # The speed work of mdreader.fast (response cache, inline guard reads, ...): off answers
    # the same, only slower.
    fast_paths: bool = True
    log_emf: bool = False
    emf_namespace: str = "MDReader"
    emf_endpoint: str | None = None

    # Auth policy (defaults from the deployment spec)
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 7 * 24 * 3600
    email_token_ttl: int = 48 * 3600
    password_reset_ttl: int = 3600
    invitation_ttl: int = 14 * 24 * 3600
    password_min_length: int = 8
    password_require_upper: bool = True
    password_require_lower: bool = True
    password_require_digit: bool = True
    password_require_symbol: bool = True
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 30
    login_failure_window: int = 15 * 60
    session_cache_ttl: int = 30
    rate_limit_requests: int = 1000
    rate_limit_window: int = 300
    share_rate_limit_requests: int = 300

    # Hard limits
    max_body_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    max_document_bytes: int = 1024 * 1024
    max_tree_depth: int = Field(default=64, ge=1)
    upload_types: list[str] = Field(default_factory=lambda: list(DEFAULT_UPLOAD_TYPES))
    # Slow clients (serving.py)
    header_timeout: float = Field(default=10.0, ge=0)
    body_timeout: float = Field(default=30.0, ge=0)
    max_connections_per_address: int = Field(default=256, ge=0)

    # Webhooks (services/webhooks.py)
    webhook_allow_private: bool = False  # targets in private, loopback, link-local ranges
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_retry_delay: float = Field(default=30.0, gt=0)  # then twice as long each time
    webhook_disable_after: int = Field(default=20, ge=1)  # failed attempts in a row
    webhook_poll_interval: float = Field(default=1.0, gt=0)

    # Audit log (services/audit.py): days an entry is kept; 0 keeps them for ever.
    audit_retention_days: int = Field(default=365, ge=0)

    # PDF export (services/pdf.py): the Chromium that prints; found on the PATH when unset.
    pdf_chromium: str | None = None

    # History, import and export
    version_quiet_period: float = Field(default=300.0, ge=0)
    notification_digest_interval: float = Field(default=900.0, ge=0)
    import_max_files: int = Field(default=10_000, ge=1)
    import_max_uncompressed_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    import_max_ratio: float = Field(default=100.0, ge=1)
    import_max_per_hour: int = Field(default=30, ge=0)
    # Collaboration (WebSocket) limits and timings
    collab_max_message_bytes: int = 4 * 1024 * 1024
    collab_max_connections: int = 10_000
    collab_max_documents_per_socket: int = 100
    collab_max_pending_documents: int = 20
    collab_max_preauth_messages: int = 200
    collab_max_preauth_bytes: int = 1024 * 1024
    collab_max_awareness_bytes: int = 64 * 1024
    collab_outbox_bytes: int = 32 * 1024 * 1024
    collab_auth_timeout: float = 10.0
    collab_idle_timeout: float = 60.0
    collab_ping_interval: float = 15.0
    collab_awareness_timeout: float = 30.0
    collab_recheck_interval: float = 2.0
    collab_unload_delay: float = 5.0
    collab_store_writers: int = 0

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.environment == "production" and self.secret_key in {"changeme", "secret", "dev"}:
            raise ValueError("MDREADER_SECRET_KEY is a well-known default; set a real secret")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("MDREADER_STORAGE=s3 needs MDREADER_S3_BUCKET")
        if self.auth_provider == "cognito" and not (
            self.cognito_user_pool_id and self.cognito_client_id
        ):
            raise ValueError(
                "MDREADER_AUTH_PROVIDER=cognito needs MDREADER_COGNITO_USER_POOL_ID "
                "and MDREADER_COGNITO_CLIENT_ID"
            )
        names = [p.name for p in self.oidc_providers]
        if len(names) != len(set(names)):
            raise ValueError("MDREADER_OIDC_PROVIDERS: every provider needs a name of its own")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mdreader.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The signing key: from the environment, else generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        return load_or_create_secret(self.data_dir)

    @cached_property
    def resolved_web_dist(self) -> Path:
        """The setting; else the checkout's ``web/dist``; else the bundle a wheel carries."""
        if self.web_dist:
            return self.web_dist
        checkout = Path(__file__).resolve().parents[2] / "web" / "dist"
        packaged = Path(__file__).resolve().parent / "web"
        if not (checkout / "index.html").is_file() and (packaged / "index.html").is_file():
            return packaged
        return checkout

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def load_or_create_secret(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
