"""Backups of an instance (database and files) as one archive, restores, and retention.

The dump is logical (JSON rows, not SQL), so a backup of a SQLite instance restores into
PostgreSQL and the other way round. A restore needs an empty database: it migrates it to the
archive's schema revision, inserts the rows, puts the files back, then migrates to the newest
revision, so an old backup restores into a newer MDReader.

- ``archive``: making, verifying and restoring an archive (the format is described there);
- ``rows``: the database's rows as JSON and back;
- ``files``: the instance's stored files;
- ``destinations``: a folder or ``s3://bucket/prefix``, archive names, and retention (after a
  backup everything from the last 30 days is kept, then one archive per week up to 90 days,
  and nothing older; the newest archive is never deleted);
- ``base``: the errors and progress callback they share.
"""

from mdreader.backup.archive import Summary, backup, dump, load, verify
from mdreader.backup.base import BackupError, Progress
from mdreader.backup.destinations import (
    Destination,
    FolderDestination,
    S3Destination,
    archive_name,
    archive_time,
    destination,
    expired,
    latest,
)
from mdreader.backup.files import FileStore, StoredFiles, file_store

__all__ = [
    "BackupError",
    "Destination",
    "FileStore",
    "FolderDestination",
    "Progress",
    "S3Destination",
    "StoredFiles",
    "Summary",
    "archive_name",
    "archive_time",
    "backup",
    "destination",
    "dump",
    "expired",
    "file_store",
    "latest",
    "load",
    "verify",
]
