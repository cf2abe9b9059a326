"""The Lambda package (infrastructure/scripts/build_lambda.py): what it leaves out is neither
needed by what it keeps nor imported by the handler, and a first request loads no more than it
needs (issue 19, point 4)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from tests.infrastructure.conftest import REPO, SCRIPTS

pytestmark = [pytest.mark.database_independent, pytest.mark.timeout(300)]


def _build_lambda():
    spec = importlib.util.spec_from_file_location("build_lambda", SCRIPTS / "build_lambda.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _modules_of(distributions: set[str]) -> set[str]:
    """The top-level modules the installed ``distributions`` provide."""
    build = _build_lambda()
    return {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(build.normalize(d) in distributions for d in dists)
    }


def test_nothing_kept_requires_what_is_left_out():
    """A package the Lambda keeps never depends on one it leaves out as server-only or
    migrations-only: httpx needs h11 (through httpcore) as much as uvicorn does."""
    build = _build_lambda()
    leave_out = build.SERVER_ONLY | build.MIGRATIONS_ONLY
    kept, left_out = build.locked_requirements(build.LOCK, leave_out)
    assert set(left_out) == leave_out
    names = {build.normalize(block.split("==", 1)[0]) for block in kept}
    needs: dict[str, list[str]] = {}
    for name in sorted(names):
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not marker.evaluate({"extra": "", "python_version": "3.12"}):
                continue  # an extra's, or another Python's
            dependency = build.normalize(requirement.name)
            if dependency in leave_out:
                needs.setdefault(name, []).append(dependency)
    assert needs == {}


def _smoke(block: set[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MDREADER_", "AWS_"))}
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "lambda_smoke.py"), "--block", ",".join(sorted(block))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (line,) = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(line)


def test_the_handler_answers_without_the_server_only_packages():
    """The handler, imported as the Lambda runtime does, answers /health and a person's first
    steps (register, sign in, a workspace, a document, its HTML) with every package the build
    leaves out (but boto3, which the Lambda runtime has) unimportable; and its first request has loaded none of what only some requests
    need (Redis without MDREADER_REDIS_URL, the Yjs engine, single sign-on, the HTTP client of
    webhook deliveries)."""
    server_only = _modules_of(_build_lambda().SERVER_ONLY)
    assert {"uvicorn", "yaml", "click", "rich"} <= server_only
    result = _smoke(server_only | _modules_of(_build_lambda().MIGRATIONS_ONLY))
    assert set(result["statuses"].values()) <= {200, 201}
    loaded = set(result["after_health"])
    assert "mdreader" in loaded and "fastapi" in loaded
    assert loaded.isdisjoint({"redis", "pycrdt", "authlib", "joserfc", "httpx", "httpcore"})
    assert loaded.isdisjoint(server_only)
