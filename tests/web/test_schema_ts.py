"""The web app's generated client types (web/src/api/schema.ts) are what the server's OpenAPI
document makes today: a change to a route or a model that is not regenerated with
`npm run gen:api` fails here, not in a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from support.node import npm_ci
from support.web import WEB

pytestmark = [pytest.mark.database_independent, pytest.mark.timeout(300)]


def test_schema_ts_is_current() -> None:
    error = npm_ci(WEB, timeout=600)
    if error:
        pytest.fail(error)
    node = shutil.which("node") or "node"
    done = subprocess.run(
        [node, "scripts/gen-api.mjs", "--check"],
        cwd=WEB,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
