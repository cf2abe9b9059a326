"""The speed work, in one place and behind one setting (``MDREADER_FAST_PATHS``, on by
default). Everything here only makes answers cheaper; with it off MDReader answers the
same, through the router and the driver's thread pool.

- ``documents``: ``GET`` and ``PATCH /api/documents/{id}`` served in front of the router: the
  GET from a response cache validated by the database's change stamp, the PATCH through the
  same guard (``mdreader.access``) and the same service command as the route.
- ``stamps``: the change stamp (a number that moves whenever anyone commits).
- ``inline``: the guards' SQLite reads on the event loop's own thread.
- ``app``: the FastAPI application with layers in front of the framework's own.

The app wraps what is here from outside (``mdreader.app``, ``mdreader.runtime``): no route,
service or guard imports this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mdreader.db.engine import Credentials, reread_on_auth_failure, sqlite_file
from mdreader.fast.inline import InlineReads
from mdreader.fast.stamps import ChangeStamp, PostgresStamp, SqliteStamp, open_stamp


@dataclass(frozen=True, slots=True)
class DatabaseParts:
    """What ``Database`` takes from here: the change stamp and the inline reads."""

    stamp: ChangeStamp | None = None
    inline: InlineReads | None = None


def database_parts(url: str, credentials: Credentials | None = None) -> DatabaseParts:
    """On an SQLite file: two connections of the event loop's own (never a thread hop), the
    change stamp's and the guards'. On PostgreSQL: the stamp (re-reading a rotated password
    like the pools)."""
    database = sqlite_file(url)
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        return DatabaseParts(SqliteStamp(database), InlineReads(database))
    stamp = open_stamp(url)
    if credentials is not None and isinstance(stamp, PostgresStamp):
        reread_on_auth_failure(stamp.engine, "primary", credentials)
    return DatabaseParts(stamp, None)
