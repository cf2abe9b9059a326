"""`make run` for a newcomer: the runtime dependencies only (no dev extras), and the web app
built only when its sources changed since the last build (`make -n`: what would run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent
ROOT = Path(__file__).resolve().parents[1]


def _dry_run(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["make", "-n", *(args or ("run",))],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_installs_runtime_only_and_builds_the_web_app_when_changed(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is needed to test the Makefile")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "node_modules").mkdir()
    (web / "package.json").write_text("{}")
    (web / "package-lock.json").write_text("{}")
    (web / "node_modules" / ".package-lock.json").write_text("{}")
    (web / "src" / "main.tsx").write_text("// app")
    (web / "dist").mkdir()
    (web / "dist" / "index.html").write_text("<!doctype html>")
    past = time.time() - 60
    for path in [*web.rglob("*"), *(tmp_path / n for n in ("Makefile", "pyproject.toml"))]:
        if path.is_file() and path.parent.name != "dist":
            os.utime(path, (past, past))

    plan = _dry_run(tmp_path)
    assert "pip install --quiet -e ." in plan and ".[dev]" not in plan
    assert "npm run build" not in plan  # the build is newer than every source
    assert "mdreader serve --host 127.0.0.1 --port 8000" in plan

    (web / "src" / "main.tsx").write_text("// changed")
    assert "npm run build" in _dry_run(tmp_path)
    assert "--port 8123" in _dry_run(tmp_path, "run", "PORT=8123")
