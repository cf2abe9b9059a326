"""Migrations run on the configured backend and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader.db import Base, migrate
from mdreader.db.models import include_name


async def test_models_match_migrations(database_url):
    engine = create_async_engine(database_url)

    def diff(conn):
        return compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata
        )

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == [], f"models and migrations differ: {changes}"


def test_migrate_is_idempotent_and_reversible(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    migrate(url)
    migrate(url, "base")
    migrate(url)
