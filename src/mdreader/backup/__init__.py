"""Backups of an instance (database and files) as one archive, restores, and retention."""

from mdreader.backup.archive import *  # noqa: F403  (split by concept in the next commit)
