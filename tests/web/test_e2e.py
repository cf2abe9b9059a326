"""End-to-end tests of the web app: Debian's Chromium, driven by playwright-core from the Node
scripts in web/e2e/, against a real server with a fresh database (SQLite, or PostgreSQL with
Redis in the second pass). Screenshots land in test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKEND, PG_ADMIN_URL, REDIS_URL
from tests.web.harness import WEB, WebServer, database, prepare_web, run_e2e, web_server

SCRIPTS = sorted(p.name for p in (WEB / "e2e").glob("*.e2e.mjs"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    # Never skipped: without Node, npm or Chromium the web app is untested, which is a failure.
    error = prepare_web()
    if error:
        pytest.fail(error)
    tmp: Path = tmp_path_factory.mktemp("web-e2e")
    with database(BACKEND, PG_ADMIN_URL, tmp) as url, web_server(url, REDIS_URL, tmp) as live:
        yield live


def test_scripts_are_found() -> None:
    assert {"auth.e2e.mjs", "collab.e2e.mjs", "reader.e2e.mjs"} <= set(SCRIPTS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", SCRIPTS)
def test_e2e(script: str, server: WebServer) -> None:
    result = run_e2e(script, server)
    if result.returncode != 0:
        log = server.mail_log.read_text()[-4000:]
        pytest.fail(
            f"{script} failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}\n"
            f"--- server log (tail) ---\n{log}",
            pytrace=False,
        )
