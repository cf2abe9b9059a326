"""The instance's stored files as a backup reads and a restore writes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from mdreader.backends.storage import Storage, create_storage
from mdreader.backup.base import BackupError
from mdreader.db.engine import Database
from mdreader.db.models import File
from mdreader.settings import Settings


class FileStore(Protocol):
    """What backups need of the file storage."""

    def list_keys(self, snapshot: AsyncConnection) -> AsyncIterator[str]:
        """The stored files' keys as the rows read through ``snapshot`` know them."""
        ...

    async def read(self, key: str) -> bytes: ...

    async def write(self, key: str, data: bytes) -> None: ...


class StoredFiles:
    """The files the database knows (``files.storage_key``), in the instance's storage."""

    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def list_keys(self, snapshot: AsyncConnection) -> AsyncIterator[str]:
        keys = (await snapshot.execute(select(File.storage_key).order_by(File.id))).scalars()
        for key in list(keys):
            yield key

    async def read(self, key: str) -> bytes:
        data = await self.storage.get(key)
        if data is None:
            raise BackupError(f"The stored file {key} is missing from the storage.")
        return data

    async def write(self, key: str, data: bytes) -> None:
        async with self.db.primary_read_engine.connect() as conn:  # a read: no write lock
            kind = await conn.scalar(select(File.content_type).where(File.storage_key == key))
        await self.storage.put(key, data, kind or "application/octet-stream")


def file_store(settings: Settings, db: Database) -> FileStore:
    """The instance's file storage, as backups see it."""
    return StoredFiles(db, create_storage(settings))
