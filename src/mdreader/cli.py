"""The ``mdreader`` command line."""

from __future__ import annotations

import asyncio
import sys

import click

from mdreader import __version__
from mdreader.settings import Settings


@click.group()
@click.version_option(__version__, prog_name="mdreader")
def main() -> None:
    """MDReader: a self-hostable, real-time collaborative Markdown workspace."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from mdreader.db import migrate as run_migrations

    settings = Settings()
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

    settings = Settings()
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
        ws_max_size=settings.collab_max_message_bytes + 1024,
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

    settings = Settings()
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
