"""Rolling back past a migration: the previous release starts on a database the current one
migrated; a release meeting a newer revision starts when that revision is marked compatible
and refuses when not; concurrent migration runs apply each migration once (the lock)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from support.scratch import free_port, pg_admin, scratch_postgres

from mdreader.db import migrate
from mdreader.db.migrations import migrations_dir, schema_verdict
from mdreader.db.schema import SchemaError, SchemaState
from tests.collab.harness import SERVER_START_WITHIN
from tests.conftest import BACKEND, PG_ADMIN_URL, Factory, unavailable

REPO = Path(__file__).resolve().parents[2]
# The release before this one. Bump it when a release is cut: the test then proves that
# release still runs on the schema this one migrates to. It is the first commit that knows
# compatible revisions (before it, `serve` refused any revision it did not know), without the
# search-speed migration that came after it.
PREVIOUS_RELEASE = "acc2fe2e03977d87b972b690861fdc4a6c004eac"


@pytest.fixture(scope="session")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's source tree (git archive of PREVIOUS_RELEASE)."""
    target = tmp_path_factory.mktemp("previous-release")
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE, "src", "migrations"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(f"git archive {PREVIOUS_RELEASE} (the previous release): {exc}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True, timeout=60)
    return target


def _serve(source: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """`mdreader serve` of the release in ``source`` (its own code and migrations, this
    interpreter's dependencies)."""
    code = (
        f"import sys; sys.path.insert(0, {str(source / 'src')!r}); "
        "from mdreader.cli import main; main()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + SERVER_START_WITHIN
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = url
    command.downgrade(cfg, revision)


def _env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env.update(
        MDREADER_DATABASE_URL=settings.resolved_database_url,
        MDREADER_DATA_DIR=str(settings.data_dir),
        MDREADER_SECRET_KEY=settings.resolved_secret_key,
        MDREADER_LOG_LEVEL="WARNING",
        MDREADER_WEB_DIST=str(settings.data_dir / "no-web"),
        **extra,
    )
    if settings.redis_url:
        env["MDREADER_REDIS_URL"] = settings.redis_url
    return env


# The newest revision the previous release runs on: c4f9a2e6b813 (the text stored once, no
# Yjs state until an edit) and d2a7c5e9f104 (no stored search vectors) are not compatible
# with it. Rolling back past it is an Alembic
# downgrade to this revision with this release first, which writes the copies back.
LAST_COMPATIBLE = "b3e8c1d5f702"


async def test_previous_release_serves_the_schema_this_release_migrated(
    previous_release: Path, settings, factory: Factory
):
    # The database fixture is migrated by this release; write through this release.
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    document = await factory.document(workspace, owner, "Kept", "written by the new release")
    # Edited live-style (logged, not compacted) on a document stored without a Yjs state.
    r = await factory.client.patch(
        f"/api/documents/{document['id']}",
        json={"content": "written by the new release, then edited"},
        headers=owner.headers,
    )
    assert r.status_code == 200, r.text

    # On this release's schema the previous release refuses to start, with a sentence.
    port = free_port()
    proc = await asyncio.to_thread(_serve, previous_release, _env(settings), port)
    refused = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode == 1
    # It names the newest revision it cannot run on (d2a7c5e9f104: no stored search vectors).
    assert "d2a7c5e9f104" in refused[1].decode() and "not marked compatible" in refused[1].decode()
    await asyncio.to_thread(_downgrade, settings.resolved_database_url, LAST_COMPATIBLE)

    proc = await asyncio.to_thread(_serve, previous_release, _env(settings), port)
    try:
        await _read_and_write_with_the_previous_release(proc, port, owner, document)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        # The fixture's database is shared by the tests that follow (PostgreSQL).
        await asyncio.to_thread(migrate, settings.resolved_database_url)
    assert proc.returncode in (0, -15), proc.stderr.read().decode()[-2000:]
    # Migrated up again over what the previous release wrote: this release reads it.
    r = await factory.client.get(f"/api/documents/{document['id']}", headers=owner.headers)
    assert r.json()["content"] == "and the old release writes too"


async def _read_and_write_with_the_previous_release(proc, port, owner, document) -> None:
    await asyncio.to_thread(_wait_ready, proc, port)
    headers = owner.headers
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as old:
        read = await old.get(f"/api/documents/{document['id']}", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json()["content"] == "written by the new release, then edited"
        versions = await old.get(f"/api/documents/{document['id']}/versions", headers=headers)
        (first,) = versions.json()
        first = await old.get(
            f"/api/documents/{document['id']}/versions/{first['id']}", headers=headers
        )
        assert first.json()["content"] == "written by the new release"
        wrote = await old.patch(
            f"/api/documents/{document['id']}",
            json={"content": "and the old release writes too"},
            headers=headers,
        )
        assert wrote.status_code == 200, wrote.text


def _future_migrations(tmp_path: Path, compatible: bool) -> Path:
    """This release's migrations plus one newer revision, as the next release would ship."""
    target = tmp_path / "future-migrations"
    shutil.copytree(migrations_dir(), target)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(target))
    (head,) = ScriptDirectory.from_config(cfg).get_heads()
    (target / "versions" / "2099_01_01_0000-f0f0f0f0f0f0_future.py").write_text(
        textwrap.dedent(
            f'''
            """future: a nullable column (expand only)"""
            import sqlalchemy as sa
            from alembic import op

            revision = "f0f0f0f0f0f0"
            down_revision = {head!r}
            branch_labels = None
            depends_on = None
            compatible_with_previous = {compatible!r}


            def upgrade() -> None:
                op.add_column("users", sa.Column("future_note", sa.Text(), nullable=True))


            def downgrade() -> None:
                with op.batch_alter_table("users") as batch:
                    batch.drop_column("future_note")
            '''
        )
    )
    return target


@pytest.mark.parametrize("compatible", [True, False], ids=["compatible", "incompatible"])
def test_a_newer_revision_is_run_on_only_when_marked_compatible(tmp_path, compatible):
    url = f"sqlite+aiosqlite:///{tmp_path / 'next.db'}"
    migrate(url, script_location=_future_migrations(tmp_path, compatible))
    verdict = schema_verdict(url)
    if compatible:
        assert verdict.state is SchemaState.COMPATIBLE_NEWER
        assert verdict.can_serve
        # `mdreader migrate` / `serve` of this release leave the newer schema alone.
        assert migrate(url).state is SchemaState.COMPATIBLE_NEWER
    else:
        assert verdict.state is SchemaState.INCOMPATIBLE
        assert verdict.blocking == "f0f0f0f0f0f0"
        assert "not marked compatible" in verdict.sentence()
        with pytest.raises(SchemaError, match="f0f0f0f0f0f0"):
            migrate(url)


def test_serve_without_migrating_refuses_an_unmigrated_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env.update(
        MDREADER_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        MDREADER_DATA_DIR=str(tmp_path),
        MDREADER_MIGRATE_ON_START="false",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mdreader", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "run `mdreader migrate` first" in result.stderr


MIGRATE = "import sys; from mdreader.db import migrate; migrate(sys.argv[1])"


def test_concurrent_migration_runs_apply_each_migration_once(tmp_path):
    def run_all(url: str) -> None:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE, url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=REPO,
            )
            for _ in range(3)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()[-2000:]
        verdict = schema_verdict(url)
        assert verdict.state is SchemaState.CURRENT

    if BACKEND == "postgresql":
        try:
            asyncio.run(pg_admin(PG_ADMIN_URL, "SELECT 1"))
        except OSError as exc:
            unavailable(f"PostgreSQL: {exc}")
        with scratch_postgres(PG_ADMIN_URL) as url:
            run_all(url)
    else:
        run_all(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}")
