"""The command line: migrate, users create, and serve answering /health."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.collab.harness import SERVER_START_WITHIN

MDREADER = [sys.executable, "-m", "mdreader"]
# Each test runs the command line a few times in fresh processes (imports, migrations): on a
# loaded two-core machine that takes minutes, and every call is bounded on its own.
pytestmark = pytest.mark.timeout(600)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDREADER_")}
    env["MDREADER_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_migrate_and_users_create(tmp_path):
    env = _env(tmp_path)
    r = subprocess.run(
        [*MDREADER, "migrate"], env=env, capture_output=True, text=True, timeout=SERVER_START_WITHIN
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "mdreader.db").exists()
    r = subprocess.run(
        [
            *MDREADER,
            "users",
            "create",
            "admin@example.com",
            "--admin",
            "--password",
            "Admin-pass-1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_START_WITHIN,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [*MDREADER, "users", "create", "admin@example.com", "--password", "Admin-pass-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_START_WITHIN,
    )
    assert r.returncode != 0 and "already exists" in r.stderr
    r = subprocess.run(
        [*MDREADER, "users", "create", "weak@example.com", "--password", "weak"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_START_WITHIN,
    )
    assert r.returncode != 0 and "password needs" in r.stderr


def test_serve_migrates_and_answers(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*MDREADER, "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + SERVER_START_WITHIN
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as resp:
            assert resp.status == 200
        assert (tmp_path / "data" / "secret_key").exists()
        # Without MDREADER_PUBLIC_URL, links in e-mails point at the port it serves on.
        body = json.dumps(
            {"email": "new@example.com", "password": "Correct-Horse-7", "name": "New"}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/auth/register",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 201
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        output = proc.stdout.read().decode() if proc.stdout else ""
        if proc.stdout:
            proc.stdout.close()
    assert f"http://localhost:{port}/verify-email?token=" in output, output[-2000:]


def test_public_url_follows_the_served_port():
    from mdreader.cli import local_public_url

    assert local_public_url("127.0.0.1", 8123) == "http://localhost:8123"
    assert local_public_url("0.0.0.0", 9000) == "http://localhost:9000"
    assert local_public_url("notes.example.org", 80) == "http://notes.example.org:80"
    assert local_public_url("fd00::1", 8000) == "http://[fd00::1]:8000"


def test_users_export_for_cognito(tmp_path):
    import csv
    import json

    env = _env(tmp_path)
    for email in ("b@example.com", "a@example.com"):
        r = subprocess.run(
            [*MDREADER, "users", "create", email, "--name", "Ünï", "--password", "Admin-pass-1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=SERVER_START_WITHIN,
        )
        assert r.returncode == 0, r.stderr
    out_json, out_csv = tmp_path / "users.json", tmp_path / "users.csv"
    for dest in (out_json, out_csv):
        r = subprocess.run(
            [*MDREADER, "users", "export", str(dest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SERVER_START_WITHIN,
        )
        assert r.returncode == 0, r.stderr
        assert "Exported 2 user(s)" in r.stdout
    users = json.loads(out_json.read_text())["users"]
    assert {u["email"] for u in users} == {"a@example.com", "b@example.com"}
    assert all(u["email_verified"] and "password" not in str(u) for u in users)
    with out_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    # Cognito's import needs these columns, and cognito:username last as in GetCSVHeader.
    assert header[-1] == "cognito:username"
    assert {"email", "email_verified", "cognito:mfa_enabled", "phone_number_verified"} <= set(
        header
    )
    assert {r["cognito:username"] for r in rows} == {"a@example.com", "b@example.com"}
    assert all(r["email_verified"] == "true" and r["name"] == "Ünï" for r in rows)
    assert all(r["updated_at"].isdigit() for r in rows)
