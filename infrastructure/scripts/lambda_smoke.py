#!/usr/bin/env python3
"""Answer API Gateway events with a Lambda package's handler, as a new execution environment would.

    PYTHONPATH=build/lambda python3.12 -S infrastructure/scripts/lambda_smoke.py \
        [--block MOD,...] [--migrate-with PYTHON]

Run with nothing but the standard library and the package on the path (``-S``), this imports
``mdreader.lambda_handler`` the way the Lambda runtime does (``AWS_LAMBDA_FUNCTION_NAME`` set:
the app is built and started at import), against a fresh SQLite database, then sends HTTP
API (v2) events: ``GET /health``, and a person's first steps (register, sign in, a
workspace, a document with Markdown, its rendered HTML, the document back). Any other answer
than the expected status fails, with the response.
``--block`` makes the named top-level modules unimportable, as if left out of the package
(tests/infrastructure/test_lambda_package.py runs it so against the development install).
The database is migrated first, in a process of its own: by ``--migrate-with``, an interpreter
with MDReader and Alembic installed (the package has no Alembic: the function never migrates),
else by this one.

Prints one JSON line: the status of each step and ``after_health``, the top-level modules
loaded by the time the first event was answered (tests check that what a first request does
not need stays unloaded). build_lambda.py runs it on every package it builds.
"""

from __future__ import annotations

import argparse
import base64
import importlib.abc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PASSWORD = "Smoke-test-1!"


class Blocked(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (left out)", name=fullname)
        return None


def event(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    headers = {"host": "smoke.execute-api.us-east-1.amazonaws.com"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    raw = None
    if body is not None:
        headers["content-type"] = "application/json"
        raw = base64.b64encode(json.dumps(body).encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "lambda-smoke",
            },
            "requestId": "smoke",
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": raw,
        "isBase64Encoded": raw is not None,
    }


def body_text(response: dict[str, Any]) -> str:
    raw = response.get("body") or ""
    return base64.b64decode(raw).decode() if response.get("isBase64Encoded") else raw


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--block", default="", help="top-level modules to make unimportable")
    parser.add_argument("--migrate-with", help="the interpreter that migrates the database")
    args = parser.parse_args(argv)
    blocked = {name for name in args.block.split(",") if name}
    if blocked:
        sys.meta_path.insert(0, Blocked(blocked))
    with tempfile.TemporaryDirectory(prefix="mdreader-lambda-smoke-") as tmp:
        for key in [k for k in os.environ if k.startswith("MDREADER_")]:
            del os.environ[key]
        os.environ.update(
            MDREADER_DATA_DIR=tmp,
            MDREADER_SECRET_KEY="smoke-" + "k" * 58,
            MDREADER_WEB_DIST=str(Path(tmp) / "no-web"),
            MDREADER_LOG_JSON="false",
            MDREADER_MIGRATE_ON_START="false",
            AWS_LAMBDA_FUNCTION_NAME="mdreader-smoke",
        )
        # Migrations are done at deploy time, not by the function: in a process of their own,
        # so that what they import is not counted as the handler's.
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'mdreader.db'}"
        migrate = f"from mdreader.db import migrate; migrate({url!r})"
        if args.migrate_with:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            subprocess.run([args.migrate_with, "-c", migrate], env=env, check=True)
        else:
            subprocess.run(
                [sys.executable, *(["-S"] if sys.flags.no_site else []), "-c", migrate], check=True
            )
        loaded_before = set(sys.modules)
        from mdreader.lambda_handler import handler

        statuses: dict[str, int] = {}

        def send(step: str, expected: int, *args: Any, **kwargs: Any) -> Any:
            response = handler(event(*args, **kwargs), None)
            statuses[step] = response["statusCode"]
            if response["statusCode"] != expected:
                raise SystemExit(f"lambda_smoke: {step}: expected {expected}, got {response}")
            text = body_text(response)
            return (
                json.loads(text) if "json" in response["headers"].get("content-type", "") else text
            )

        send("health", 200, "GET", "/health")
        after_health = sorted(
            {m.split(".", 1)[0] for m in set(sys.modules) - loaded_before if not m.startswith("_")}
        )
        email = "smoke@example.com"
        send(
            "register",
            201,
            "POST",
            "/api/auth/register",
            {"email": email, "password": PASSWORD, "name": "S"},
        )
        token = send(
            "login", 200, "POST", "/api/auth/login", {"email": email, "password": PASSWORD}
        )["access_token"]
        workspace = send(
            "workspace", 201, "POST", "/api/workspaces", {"name": "Smoke"}, token=token
        )
        document = send(
            "document",
            201,
            "POST",
            f"/api/workspaces/{workspace['id']}/documents",
            {"title": "Smoke", "content": "# Smoke\n\nIt *renders*, <script>x()</script> is gone."},
            token=token,
        )
        html = send("html", 200, "GET", f"/api/documents/{document['id']}/html", token=token)
        if "<h1" not in html or "<em>renders</em>" not in html or "<script" in html:
            raise SystemExit(f"lambda_smoke: html: unexpected {html[:500]!r}")
        back = send("read", 200, "GET", f"/api/documents/{document['id']}", token=token)
        if "It *renders*" not in back["content"]:
            raise SystemExit(f"lambda_smoke: read: unexpected {back!r}")
        import mdreader.lambda_handler as module

        if module._app is not None:
            module._app.close()
    print(json.dumps({"statuses": statuses, "after_health": after_health}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
