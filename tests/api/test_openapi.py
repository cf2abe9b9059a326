"""The OpenAPI document describes what the server sends, errors included (api/openapi.py):
a bounded schemathesis run against a real server finds no 5xx and no answer (status, content
type, body, headers) the document does not describe."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.collab.harness import ServerProcess, server_env
from tests.conftest import Factory, make_settings

EXAMPLES_PER_OPERATION = 6  # generated cases per operation; derandomized, so the same each run


async def _world(base: str, outbox: Any) -> dict[str, Any]:
    """A signed-in owner with a workspace, a document with a version, a share link and an
    upload: real ids for the fuzzer's path parameters, so that cases reach the handlers."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        factory = Factory(c, outbox)
        owner = await factory.user("fuzz")
        ws = await factory.workspace(owner)
        doc = await factory.document(ws, owner, "Doc", "# Hello\n\ntext")
        h = owner.headers
        version = (await c.get(f"/api/documents/{doc['id']}/versions", headers=h)).json()[0]
        share = (await c.post(f"/api/documents/{doc['id']}/shares", json={}, headers=h)).json()
        upload = await c.post(
            f"/api/workspaces/{ws['id']}/files",
            files={"file": ("note.txt", b"hello", "text/plain")},
            headers=h,
        )
        comment = await c.post(
            f"/api/documents/{doc['id']}/comments", json={"body": "A thought"}, headers=h
        )
        return {
            "headers": h,
            "path": {
                "workspace_id": ws["id"],
                "document_id": doc["id"],
                "version_id": version["id"],
                "file_id": upload.json()["id"],
                "user_id": owner.id,
                "token": share["token"],
                "session_id": str(uuid.uuid4()),
                "invitation_id": str(uuid.uuid4()),
                "comment_id": comment.json()["id"],
                "notification_id": str(uuid.uuid4()),
            },
        }


def _fuzz(base: str, world: dict[str, Any]) -> tuple[int, list[str]]:
    """Run every operation's generated cases; (cases run, failures)."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    # The PDF routes run Chromium for seconds per call (tests/api/test_pdf.py covers them, bad
    # ids and all): fuzzing them would be most of this run's time.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if not op.path.endswith("/pdf")
    ]
    # Destructive calls last: deleting the workspace early would leave little to reach.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    session = requests.Session()
    failures: list[str] = []
    ran = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: a bounded number of calls
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal ran
            ran += 1
            for name, value in world["path"].items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            if case.query and "wait" in case.query:
                case.query["wait"] = 0  # a long poll would hold the bounded run for seconds
            case.call_and_validate(
                base_url=base, session=session, headers=world["headers"], checks=checks
            )

        try:
            run()
        except BaseException as exc:  # one operation's failure; the others still run
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    return ran, failures


@pytest.mark.timeout(900)
async def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(tmp_path, database_url, outbox):
    settings = make_settings(tmp_path, database_url)
    env = server_env(
        settings,
        MDREADER_RATE_LIMIT_REQUESTS="0",
        MDREADER_SHARE_RATE_LIMIT_REQUESTS="0",
        MDREADER_LOG_LEVEL="ERROR",
        # Fuzzed webhook URLs: any delivery goes to a local port nothing listens on, never
        # past this machine (httpx follows the proxy variables).
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        ALL_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
    )
    server = await ServerProcess(env).start()
    try:
        world = await _world(server.base, outbox)
        ran, failures = await asyncio.to_thread(_fuzz, server.base, world)
        assert ran > 100
        assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
    finally:
        await server.stop()


def test_every_operation_declares_the_errors_its_layers_can_send(app):
    schema = app.openapi()
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert set(schema["components"]["schemas"]["ErrorBody"]["required"]) == {"detail", "code"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert responses["422"]["content"]["application/json"]["schema"] == error, where
            if path.startswith("/api/"):
                assert "Retry-After" in responses["429"]["headers"], where
            if path.startswith("/api/workspaces/{workspace_id}") or path.startswith(
                "/api/documents/{document_id}"
            ):
                assert {"401", "403", "404"} <= set(responses), where
            if "requestBody" in operation:
                assert "413" in responses, where
    login = schema["paths"]["/api/auth/login"]["post"]["responses"]
    assert "401" in login and "403" not in login
    assert "409" in schema["paths"]["/api/auth/register"]["post"]["responses"]
    assert "415" in schema["paths"]["/api/workspaces/{workspace_id}/files"]["post"]["responses"]
