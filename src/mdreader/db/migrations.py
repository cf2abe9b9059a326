"""Schema migrations (Alembic, ``migrations/``): applying them under the migration lock, and
telling how a database's schema stands to this release (``mdreader.db.schema``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from mdreader.db.engine import is_sqlite, sqlite_file


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def _alembic_config(url: str, script_location: Path | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location or migrations_dir()))
    cfg.attributes["database_url"] = url
    return cfg


def _off_the_loop(run: Callable[[], Any]) -> Any:
    """Run ``run`` here, or in a thread when called from inside an event loop (tests, the
    app): Alembic's env runs its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    results: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(run())
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def migrate(url: str, revision: str = "head", *, script_location: Path | None = None) -> Any:
    """Bring the database at ``url`` to ``revision`` (Alembic), creating it if needed, under
    the migration lock. A database at a newer revision marked compatible is left as it is;
    one at a newer incompatible revision raises ``schema.SchemaError``. Returns the verdict
    found before migrating (``mdreader.db.schema.Verdict``)."""
    from alembic import command

    from mdreader.db import schema

    cfg = _alembic_config(url, script_location)
    database = sqlite_file(url) if is_sqlite(url) else None
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    def run() -> Any:
        with schema.file_lock(database):
            command.upgrade(cfg, revision)
        return cfg.attributes.get("verdict")

    return _off_the_loop(run)


def schema_verdict(url: str, *, script_location: Path | None = None) -> Any:
    """How the database's schema stands to this release, without changing anything."""
    from alembic.script import ScriptDirectory

    from mdreader.db import schema

    cfg = _alembic_config(url, script_location)
    script = ScriptDirectory.from_config(cfg)

    async def check() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync: schema.verdict(sync, script))
        finally:
            await engine.dispose()

    return _off_the_loop(lambda: asyncio.run(check()))
