"""checkov over every template, once: no failed check, and every skipped one says why in a
suppression comment beside the resource. checkov lives in a virtualenv of its own
(`make checkov`: its dependencies would pin the app's)."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import unavailable

from .conftest import REPO, TEMPLATES


def _checkov() -> str:
    own = REPO / ".venv" / "checkov" / "bin" / "checkov"
    found = str(own) if own.exists() else shutil.which("checkov")
    if not found:
        unavailable("checkov (make checkov installs it into .venv/checkov)")
    return found


def test_checkov_finds_nothing_unexplained():
    result = subprocess.run(
        [
            _checkov(),
            "-d",
            str(TEMPLATES),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (cloudformation,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    summary = cloudformation["summary"]
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for f in cloudformation["results"]["failed_checks"]
    ]
    assert failed == [] and summary["parsing_errors"] == 0, failed
    assert summary["passed"] > 100
    unexplained = [
        f"{s['check_id']} {s['resource']}"
        for s in cloudformation["results"]["skipped_checks"]
        if len((s.get("check_result") or {}).get("suppress_comment") or "") < 20
    ]
    assert unexplained == [], unexplained
