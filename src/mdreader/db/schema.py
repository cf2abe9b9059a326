"""Which schema revision a release may run on, and one migration run at a time.

Releases are rolled out expand/contract: a migration that only *adds* (a nullable column, a
table, an index) leaves the previous release working on the migrated schema, so that release
can be rolled back to without restoring the database. Such a migration says so in its module::

    compatible_with_previous = True

Every applied revision is recorded in ``mdreader_schema_compat`` (revision, the revision it
follows, whether it kept that compatibility). A release that meets a revision it does not
know walks that record down to its own head: when every unknown revision on the way is
marked compatible it starts (and migrates nothing); otherwise it refuses with a sentence
naming the revision. The record lives outside Alembic's models, so a release older than this
mechanism starts on it too.

Migrations take a lock first (PostgreSQL: a transaction-scoped advisory lock; SQLite: a lock
file beside the database), so releases starting together apply each migration once.
"""

from __future__ import annotations

import enum
import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger("mdreader.migrations")

COMPAT_TABLE = "mdreader_schema_compat"
# pg_advisory_xact_lock key: any constant the application uses for nothing else.
LOCK_KEY = 0x6D647264_6D696772  # "mdrdmigr"

_metadata = sa.MetaData()
compat_table = sa.Table(
    COMPAT_TABLE,
    _metadata,
    sa.Column("revision", sa.String(64), primary_key=True),
    sa.Column("down_revision", sa.String(200), nullable=True),
    sa.Column("compatible_with_previous", sa.Boolean, nullable=False),
)


class SchemaState(enum.Enum):
    EMPTY = "empty"  # no schema yet
    CURRENT = "current"  # at this release's head
    BEHIND = "behind"  # older than this release: run `mdreader migrate`
    COMPATIBLE_NEWER = "compatible_newer"  # newer, and marked to keep this release working
    INCOMPATIBLE = "incompatible"  # newer, and not compatible with this release


@dataclass(frozen=True, slots=True)
class Verdict:
    state: SchemaState
    database: tuple[str, ...]  # the database's revision(s)
    head: tuple[str, ...]  # this release's head(s)
    blocking: str | None = None  # the unknown revision that is not compatible

    @property
    def can_serve(self) -> bool:
        return self.state in (SchemaState.CURRENT, SchemaState.COMPATIBLE_NEWER)

    def sentence(self) -> str:
        db = ", ".join(self.database) or "none"
        head = ", ".join(self.head)
        if self.state is SchemaState.CURRENT:
            return f"The database schema is at this release's revision ({head})."
        if self.state is SchemaState.EMPTY:
            return "The database has no schema yet: run `mdreader migrate` first."
        if self.state is SchemaState.BEHIND:
            return (
                f"The database schema ({db}) is older than this release ({head}): "
                "run `mdreader migrate` (the release's migration step) first."
            )
        if self.state is SchemaState.COMPATIBLE_NEWER:
            return (
                f"The database schema ({db}) is newer than this release ({head}) and marked "
                "compatible with it; starting without migrating."
            )
        return (
            f"The database schema ({db}) is newer than this release ({head}) and revision "
            f"{self.blocking} is not marked compatible with the release before it: deploy a "
            "release that knows it, or restore the database from before it."
        )


def is_compat_table(name: str | None) -> bool:
    return name == COMPAT_TABLE


def lock(connection: Connection) -> None:
    """Within the migration transaction: wait for any other migration run to finish."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


@contextmanager
def file_lock(database_file: str | None) -> Iterator[None]:
    """SQLite: a lock file beside the database, held while migrating."""
    if not database_file:
        yield
        return
    path = Path(f"{database_file}.migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_table(connection: Connection) -> None:
    compat_table.create(connection, checkfirst=True)


def record_step(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    """Alembic ``on_version_apply`` hook: note each applied revision and its compatibility."""
    connection = ctx.connection
    revision = step.up_revision_id
    connection.execute(compat_table.delete().where(compat_table.c.revision == revision))
    if not step.is_upgrade:
        return
    script = step.up_revision
    module = getattr(script, "module", None)
    compatible = bool(getattr(module, "compatible_with_previous", False))
    connection.execute(
        compat_table.insert().values(
            revision=revision,
            down_revision=",".join(step.down_revision_ids) or None,
            compatible_with_previous=compatible,
        )
    )


def verdict(connection: Connection, script: Any) -> Verdict:
    """How the database's schema stands to this release's migrations (``script``: Alembic's
    ScriptDirectory)."""
    from alembic.migration import MigrationContext

    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    head = tuple(sorted(script.get_heads()))
    if not current:
        return Verdict(SchemaState.EMPTY, current, head)
    unknown = [rev for rev in current if not _known(script, rev)]
    if not unknown:
        if set(current) == set(head):
            return Verdict(SchemaState.CURRENT, current, head)
        return Verdict(SchemaState.BEHIND, current, head)
    rows: dict[str, tuple[list[str], bool]] = {}
    if sa.inspect(connection).has_table(COMPAT_TABLE):
        for rev, down, ok in connection.execute(
            sa.select(
                compat_table.c.revision,
                compat_table.c.down_revision,
                compat_table.c.compatible_with_previous,
            )
        ):
            rows[rev] = ([d for d in (down or "").split(",") if d], bool(ok))
    reached: set[str] = set()
    pending = list(unknown)
    seen: set[str] = set()
    while pending:
        rev = pending.pop()
        if rev in seen:
            continue
        seen.add(rev)
        if _known(script, rev):
            reached.add(rev)
            continue
        down, ok = rows.get(rev, ([], False))
        if not ok or not down:
            return Verdict(SchemaState.INCOMPATIBLE, current, head, blocking=rev)
        pending.extend(down)
    if not reached <= set(head):
        # The unknown revisions follow one this release has already moved past or beside.
        return Verdict(SchemaState.INCOMPATIBLE, current, head, blocking=unknown[0])
    return Verdict(SchemaState.COMPATIBLE_NEWER, current, head)


def _known(script: Any, revision: str) -> bool:
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except (RevisionError, CommandError):
        return False


class SchemaError(RuntimeError):
    """The database's schema is one this release must not run on."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.sentence())
        self.verdict = verdict
