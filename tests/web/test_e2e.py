"""End-to-end tests of the web app: Debian's Chromium, driven by playwright-core from the Node
scripts in web/e2e/, against a real server with a fresh database (SQLite, or PostgreSQL with
Redis in the second pass). Screenshots land in test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.mark.structures import ParameterSet
from support.web import WEB, WebServer, database, prepare_web, run_e2e, web_server

from mdreader.app import create_app
from mdreader.settings import Settings
from tests.conftest import BACKEND, PG_ADMIN_URL, REDIS_URL

SCRIPTS = sorted(p.name for p in (WEB / "e2e").glob("*.e2e.mjs"))

# Scripts that need routes other branches build; without them the script is an expected
# failure (strict: once the route lands, the script must pass), never a skip.
NEEDS = {
    "collab.e2e.mjs": ("/ws", "the collaboration server (branch collab)"),
    "features.e2e.mjs": ("/api/documents/{document_id}/versions", "history (branch history)"),
    "upload.e2e.mjs": ("/api/workspaces/{workspace_id}/files", "file uploads (branch backends)"),
}


def _routes() -> set[str]:
    app = create_app(Settings(_env_file=None, web_dist=WEB / "dist"))  # type: ignore[call-arg]
    # REST routes from the OpenAPI document (included routers), WebSockets from the app.
    return set(app.openapi()["paths"]) | {getattr(route, "path", "") for route in app.routes}


ROUTES = _routes()


def _param(script: str) -> ParameterSet:
    need = NEEDS.get(script)
    if need and need[0] not in ROUTES:
        mark = pytest.mark.xfail(strict=True, reason=f"waits on {need[1]}: no {need[0]} here")
        return pytest.param(script, marks=mark)
    return pytest.param(script)


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
    assert {"auth.e2e.mjs", "collab.e2e.mjs", "reader.e2e.mjs", "workspace.e2e.mjs"} <= set(SCRIPTS)
    assert set(NEEDS) <= set(SCRIPTS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", [_param(s) for s in SCRIPTS])
def test_e2e(script: str, server: WebServer) -> None:
    result = run_e2e(script, server)
    if result.returncode != 0:
        log = server.mail_log.read_text()[-4000:]
        pytest.fail(
            f"{script} failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}\n"
            f"--- server log (tail) ---\n{log}",
            pytrace=False,
        )
