"""The ``mdreader`` command line."""

from __future__ import annotations

import asyncio
import sys

import click

from mdreader import __version__
from mdreader.settings import Settings


def load_settings() -> Settings:
    """The environment's settings, with Secrets Manager's values when a prefix is set."""
    from mdreader.backends.secrets import apply_secrets

    return apply_secrets(Settings())


@click.group()
@click.version_option(__version__, prog_name="mdreader")
def main() -> None:
    """MDReader: a self-hostable, real-time collaborative Markdown workspace."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from mdreader.db import migrate as run_migrations

    settings = load_settings()
    run_migrations(settings.resolved_database_url)
    click.echo("Database is up to date.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Apply migrations, then serve the API, the WebSocket and the web app."""
    import uvicorn

    from mdreader.db import migrate as run_migrations
    from mdreader.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    run_migrations(settings.resolved_database_url)
    settings.resolved_secret_key  # noqa: B018 - create the key file once, before workers fork
    click.echo(f"MDReader {__version__} on http://{host}:{port}", err=True)
    uvicorn.run(
        "mdreader.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # client addresses are resolved from MDREADER_TRUSTED_PROXIES
        log_config=None,
        access_log=False,
        ws_max_size=16 * 1024 * 1024,
    )


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name (default: the part before @).")
@click.option("--admin", is_flag=True, help="Make the user an instance administrator.")
@click.password_option(help="Password (asked when not given).")
def users_create(email: str, name: str | None, admin: bool, password: str) -> None:
    """Create a verified user account."""
    from mdreader.auth.passwords import check_policy, hash_password
    from mdreader.db import Database
    from mdreader.db import migrate as run_migrations
    from mdreader.db.models import User
    from mdreader.errors import AppError
    from mdreader.services.auth import normalize_email

    settings = load_settings()
    try:
        check_policy(password, settings)
    except AppError as exc:
        raise click.ClickException(exc.detail) from None
    run_migrations(settings.resolved_database_url)

    async def create() -> None:
        from sqlalchemy import select

        db = Database(settings.resolved_database_url)
        try:
            async with db.session() as session:
                address = normalize_email(email)
                if await session.scalar(select(User.id).where(User.email == address)):
                    raise click.ClickException(f"A user with e-mail {address} already exists.")
                session.add(
                    User(
                        email=address,
                        name=name or address.split("@")[0],
                        password_hash=hash_password(password),
                        email_verified=True,
                        is_admin=admin,
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(create())
    click.echo(f"Created {email}{' (administrator)' if admin else ''}.")


@users.command("export")
@click.argument("dest", type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default=None,
    help="json, or csv in the layout of Cognito's user import (default: from DEST's extension).",
)
def users_export(dest: str, fmt: str | None) -> None:
    """Write every user to DEST, for moving accounts to a Cognito user pool.

    The CSV has Cognito's import columns (cognito:username is the e-mail address). Passwords
    are not exported: imported users set a new one on first sign-in (or migrate with a
    user-migration trigger). In cognito mode a user is then matched by verified e-mail.
    """
    from mdreader.db import Database
    from mdreader.services.identity import export_users, write_users

    settings = load_settings()
    fmt = fmt or ("csv" if dest.lower().endswith(".csv") else "json")

    async def run() -> list[dict[str, object]]:
        db = Database(settings.resolved_database_url)
        try:
            return await export_users(db)
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    with open(dest, "w", encoding="utf-8", newline="") as out:
        write_users(rows, out, fmt)
    click.echo(f"Exported {len(rows)} user(s) to {dest} ({fmt}).")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
