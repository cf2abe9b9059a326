"""The ``mdreader`` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mdreader import __version__
from mdreader.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from mdreader.db import Database

T = TypeVar("T")


def load_settings() -> Settings:
    """The environment's settings, with Secrets Manager's values when a prefix is set."""
    from mdreader.backends.secrets import apply_secrets

    return apply_secrets(Settings())


@click.group()
@click.version_option(__version__, prog_name="mdreader")
def main() -> None:
    """MDReader: a self-hostable, real-time collaborative Markdown workspace."""


@main.command()
@click.option(
    "--check",
    is_flag=True,
    help="Only say how the schema stands; exit 1 if this release cannot run.",
)
def migrate(check: bool) -> None:
    """Apply database migrations (once per release, under a lock; see docs/operations.md)."""
    from mdreader.db import migrate as run_migrations
    from mdreader.db.migrations import schema_verdict
    from mdreader.db.schema import SchemaError

    settings = load_settings()
    if check:
        verdict = schema_verdict(settings.resolved_database_url)
        click.echo(verdict.sentence())
        sys.exit(0 if verdict.can_serve else 1)
    try:
        verdict = run_migrations(settings.resolved_database_url)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    if verdict is not None and verdict.state.value == "compatible_newer":
        click.echo(verdict.sentence())
    else:
        click.echo("Database is up to date.")


def _schema_ready(settings: Settings) -> None:
    """Before serving: migrate (the default), or with MDREADER_MIGRATE_ON_START=false only
    check that this release may run on the schema the release's migration step left."""
    from mdreader.db import migrate as run_migrations
    from mdreader.db.migrations import schema_verdict
    from mdreader.db.schema import SchemaError

    url = settings.resolved_database_url
    try:
        if settings.migrate_on_start:
            run_migrations(url)
            return
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    verdict = schema_verdict(url)
    if not verdict.can_serve:
        raise click.ClickException(verdict.sentence())
    if verdict.state.value == "compatible_newer":
        click.echo(verdict.sentence(), err=True)


def local_public_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches ``serve --host HOST --port PORT``."""
    if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost", ""):  # noqa: S104
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Apply migrations, then serve the API, the WebSocket and the web app."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mdreader import serving
    from mdreader.observability import configure_logging

    settings = load_settings()
    if workers > 1 and not settings.redis_url:
        raise click.UsageError(
            f"--workers {workers} needs MDREADER_REDIS_URL: without Redis each worker keeps "
            "its own sessions cache, rate limits and live documents, so a revoked session "
            "would still work on the others and co-editors on different workers would not "
            "see each other. Set MDREADER_REDIS_URL, or serve with --workers 1."
        )
    if "public_url" not in settings.model_fields_set:
        # Links in e-mails and share links point at this server unless told otherwise; the
        # app (built by uvicorn in each worker) reads it from the environment.
        os.environ["MDREADER_PUBLIC_URL"] = local_public_url(host, port)
    configure_logging(settings.log_level, settings.log_json)
    limits = serving.raise_open_files_limit()
    if limits and limits[0] != limits[1]:
        click.echo(f"Open-files limit raised from {limits[0]} to {limits[1]}.", err=True)
    _schema_ready(settings)
    settings.resolved_secret_key  # noqa: B018 - create the key file once, before workers fork
    click.echo(f"MDReader {__version__} on http://{host}:{port}", err=True)
    config = serving.config(
        "mdreader.app:create_app", settings, factory=True, host=host, port=port, workers=workers
    )
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the server could not start (address in use, ...)


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
    from mdreader.auth.passwords import check_policy
    from mdreader.db import Database
    from mdreader.db import migrate as run_migrations
    from mdreader.errors import AppError
    from mdreader.services.auth import create_account

    settings = load_settings()

    async def create() -> None:
        db = Database(settings.resolved_database_url)
        try:
            async with db.session() as session:
                await create_account(
                    session, settings, email, password, name, verified=True, admin=admin
                )
        except AppError as exc:
            raise click.ClickException(exc.detail) from None
        finally:
            await db.dispose()

    try:
        check_policy(password, settings)
    except AppError as exc:
        raise click.ClickException(exc.detail) from None
    run_migrations(settings.resolved_database_url)
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


def _progress(description: str) -> Progress:
    """A progress bar on stderr (plain when it is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        f"[bold]{description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def _staged(bar: Progress) -> Callable[[str, int, int], None]:
    """A backup progress callback: one bar per stage (rows, files, upload)."""
    tasks: dict[str, TaskID] = {}

    def step(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)

    return step


def _s3_client(settings: Settings) -> Callable[[], Any]:
    def make() -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
        )

    return make


@main.command("backup")
@click.argument("dest")
@click.option(
    "--keep-daily", default=30, show_default=True, help="Keep every archive this many days."
)
@click.option(
    "--keep-weekly", default=90, show_default=True, help="Then one a week up to this many days."
)
def backup_command(dest: str, keep_daily: int, keep_weekly: int) -> None:
    """Archive the database and files into DEST (a folder or s3://bucket/prefix)."""
    from mdreader import backup as backups

    settings = load_settings()

    async def work(db, files, step):  # type: ignore[no-untyped-def]
        where = backups.destination(dest, _s3_client(settings))
        return await backups.backup(
            db, files, where, daily=keep_daily, weekly=keep_weekly, progress=step
        )

    summary = _backup_job(settings, "Backing up", work)
    rows = sum(summary.tables.values())
    click.echo(f"Backed up {rows} rows and {summary.files} files to {summary.where}.")
    for name in summary.pruned:
        click.echo(f"Deleted {name} (retention).")


@main.command("restore")
@click.argument("src")
def restore_command(src: str) -> None:
    """Restore an archive into an empty instance. SRC is an archive file, or a folder or
    s3://bucket/prefix whose newest archive is taken."""
    import tempfile
    from pathlib import Path

    from mdreader import backup as backups
    from mdreader.db import migrate as run_migrations

    settings = load_settings()

    async def work(db, files, step):  # type: ignore[no-untyped-def]
        with tempfile.TemporaryDirectory(prefix="mdreader-restore-") as tmp:
            archive = Path(src)
            if not archive.is_file():  # noqa: ASYNC240 - once, before any work
                source = backups.destination(src, _s3_client(settings))
                name = backups.latest(source)
                archive = Path(tmp) / name
                step("download", 0, 1)
                source.download(name, archive)
                step("download", 1, 1)
            return await backups.load(db, files, archive, run_migrations, step)

    summary = _backup_job(settings, "Restoring", work)
    rows = sum(summary.tables.values())
    click.echo(f"Restored {rows} rows and {summary.files} files.")


def _backup_job(
    settings: Settings,
    title: str,
    work: Callable[[Database, Any, Callable[[str, int, int], None]], Awaitable[T]],
) -> T:
    """Run ``work(db, files, progress)`` against the instance's database and files under a
    progress bar; a BackupError becomes the command's error message."""
    from mdreader import backup as backups
    from mdreader.db import Database

    async def run() -> T:
        db = Database(settings.resolved_database_url)
        try:
            with _progress(title) as bar:
                return await work(db, backups.file_store(settings, db), _staged(bar))
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None


def _workspace_id(value: str):  # type: ignore[no-untyped-def]
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a workspace id.") from None


@main.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--workspace", "workspace", required=True, help="Workspace id.")
@click.option("--user", "email", default=None, help="Author (default: the workspace's owner).")
def import_command(path: str, workspace: str, email: str | None) -> None:
    """Import Markdown files: one .md file, a .zip, or a folder of them, keeping the tree."""
    from mdreader.db import migrate as run_migrations
    from mdreader.errors import AppError
    from mdreader.observability import Metrics
    from mdreader.runtime import build_services
    from mdreader.services.transfer import import_files, read_path
    from mdreader.services.workspaces import import_author

    settings = load_settings()
    workspace_id = _workspace_id(workspace)
    run_migrations(settings.resolved_database_url)

    async def run() -> int:
        files = read_path(path, settings)
        async with build_services(settings, Metrics()) as services:
            with _progress("Importing") as bar:
                task = bar.add_task("import", total=None)

                def step(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                async with services.db.session() as session:
                    user_id = await import_author(session, workspace_id, email)
                    created = await import_files(
                        services, session, workspace_id, user_id, files, progress=step
                    )
        return len(created)

    try:
        count = asyncio.run(run())
    except AppError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Imported {count} document{'s' if count != 1 else ''}.")


@main.command("export")
@click.option("--workspace", "workspace", required=True, help="Workspace id.")
@click.argument("dest", type=click.Path())
def export_command(workspace: str, dest: str) -> None:
    """Export a workspace to DEST: a .zip file, or else a folder of Markdown files."""
    import shutil
    import zipfile
    from pathlib import Path

    from mdreader.db import migrate as run_migrations
    from mdreader.errors import AppError
    from mdreader.observability import Metrics
    from mdreader.runtime import build_services
    from mdreader.services.transfer import export_workspace, spooled_export
    from mdreader.services.workspaces import import_author

    settings = load_settings()
    workspace_id = _workspace_id(workspace)
    target = Path(dest)
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise click.ClickException(f"{dest} exists already; choose a new path or an empty folder.")
    run_migrations(settings.resolved_database_url)

    spool = spooled_export()

    async def run() -> int:
        async with (
            build_services(settings, Metrics()) as services,
            services.db.read_session() as session,
        ):
            await import_author(session, workspace_id, None)
            with _progress("Exporting") as bar:
                task = bar.add_task("export", total=None)

                def step(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                return await export_workspace(services, session, workspace_id, spool, progress=step)

    with spool:
        try:
            count = asyncio.run(run())
        except AppError as exc:
            raise click.ClickException(exc.detail) from None
        spool.seek(0)
        if target.suffix.lower() == ".zip":
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                shutil.copyfileobj(spool, out)
        else:
            target.mkdir(parents=True, exist_ok=True)
            # Our own archive: every path in it is relative and made safe when written.
            with zipfile.ZipFile(spool) as zf:
                zf.extractall(target)
    click.echo(f"Exported {count} document{'s' if count != 1 else ''} to {dest}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
