"""Alembic environment: runs migrations over the async engine of the given URL.

Every run holds the migration lock (mdreader.db.schema) for its whole transaction, records
each applied revision's compatibility, and, when the database is at a revision this release
does not know, migrates nothing and either carries on (the revision is marked compatible) or
stops with a sentence saying why.
"""

import asyncio
import logging

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from mdreader.db import schema
from mdreader.db.models import Base, include_name

config = context.config
target_metadata = Base.metadata
log = logging.getLogger("mdreader.migrations")


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from mdreader.settings import Settings

        url = Settings().resolved_database_url
    return url


def do_run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
        on_version_apply=schema.record_step,
    )
    with context.begin_transaction():
        schema.lock(connection)
        schema.ensure_table(connection)
        verdict = schema.verdict(connection, ScriptDirectory.from_config(config))
        config.attributes["verdict"] = verdict
        if verdict.state is schema.SchemaState.COMPATIBLE_NEWER:
            log.warning(verdict.sentence())
            return
        if verdict.state is schema.SchemaState.INCOMPATIBLE:
            raise schema.SchemaError(verdict)
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
