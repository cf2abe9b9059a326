"""MDREADER_LOG_EMF: one CloudWatch embedded-metric-format line per request."""

from __future__ import annotations

import json

import httpx

from mdreader.app import create_app
from tests.conftest import make_settings


async def test_one_emf_line_per_request_with_latency_and_status(
    tmp_path, database_url, outbox, capsys
):
    settings = make_settings(tmp_path, database_url, log_emf=True, emf_namespace="Docs")
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            capsys.readouterr()
            assert (await c.get("/health")).status_code == 200
            assert (await c.get("/api/documents/not-a-uuid")).status_code in (401, 422)
            r = await c.get("/api/auth/me", headers={"X-Request-ID": "req-42"})
            assert r.status_code == 401
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert len(lines) == 3
    health, _, me = lines
    directive = health["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Docs"
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"Latency", "Requests", "ClientErrors", "ServerErrors"} <= names
    # Every metric and dimension the directive names is a member of the line.
    for line in lines:
        for metric in names:
            assert metric in line
        for dims in directive["Dimensions"]:
            assert all(d in line for d in dims)
    assert (health["Route"], health["Method"], health["Status"]) == ("/health", "GET", 200)
    assert health["Latency"] >= 0 and health["ServerErrors"] == 0
    assert (me["Route"], me["Status"], me["ClientErrors"]) == ("/api/auth/me", 401, 1)
    assert me["request_id"] == "req-42"
    assert isinstance(health["_aws"]["Timestamp"], int)


async def test_off_by_default(client, capsys):
    capsys.readouterr()
    await client.get("/health")
    assert "CloudWatchMetrics" not in capsys.readouterr().out


async def test_emf_lines_go_to_the_cloudwatch_agent_over_udp(tmp_path, database_url, outbox):
    """On ECS the lines go to the agent sidecar (a UDP socket here, as the agent listens)."""
    import socket

    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    agent.settimeout(5)
    endpoint = f"udp://127.0.0.1:{agent.getsockname()[1]}"
    settings = make_settings(tmp_path, database_url, log_emf=True, emf_endpoint=endpoint)
    app = create_app(settings, mailer=outbox)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                assert (await c.get("/health")).status_code == 200
        line = json.loads(agent.recv(65536))
        assert line["Route"] == "/health" and line["Status"] == 200
        assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MDReader"
    finally:
        agent.close()
