"""Behind CloudFront and a load balancer the app sees the viewer's address, never the edge's:
the /api rate limit, the sign-in throttle, the sessions list and the access log all name
the address CloudFront put in ``CloudFront-Viewer-Address``, and only when the request came
through a trusted proxy (the load balancer inside the VPC)."""

from __future__ import annotations

import logging

import httpx
import pytest

from mdreader.access.address import address_of, client_ip
from mdreader.app import create_app
from tests.conftest import PASSWORD, Factory, make_settings

ALB = ("10.40.1.17", 41000)  # the load balancer, inside the VPC
EDGE = "130.176.12.9"  # a CloudFront edge, as X-Forwarded-For's last hop
VIEWER = "198.51.100.23"


class Req:
    def __init__(self, peer: str, headers: dict[str, str]):
        self.client = type("C", (), {"host": peer})()
        self.headers = {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("198.51.100.23:46532", "198.51.100.23"),
        ("198.51.100.23", "198.51.100.23"),
        ("2001:db8::7:443", "2001:db8::7"),  # CloudFront writes IPv6 address:port unbracketed
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("not an address", None),
        ("", None),
    ],
)
def test_viewer_address_forms(value, address):
    assert address_of(value) == address


def test_the_header_counts_only_from_a_trusted_proxy():
    trusted = ["10.40.0.0/16"]
    header = "CloudFront-Viewer-Address"
    through_cloudfront = {
        "CloudFront-Viewer-Address": f"{VIEWER}:5000",
        "X-Forwarded-For": f"203.0.113.66, {VIEWER}, {EDGE}",  # first hop spoofed by the viewer
    }
    assert client_ip(Req(ALB[0], through_cloudfront), trusted, header) == VIEWER
    # Without the header setting, X-Forwarded-For's right-most untrusted hop is the edge.
    assert client_ip(Req(ALB[0], through_cloudfront), trusted) == EDGE
    # Straight to the task (not through the load balancer): the header is not believed.
    assert client_ip(Req("203.0.113.5", through_cloudfront), trusted, header) == "203.0.113.5"
    # A garbled header falls back to X-Forwarded-For.
    garbled = {"CloudFront-Viewer-Address": "x", "X-Forwarded-For": f"{VIEWER}"}
    assert client_ip(Req(ALB[0], garbled), trusted, header) == VIEWER


@pytest.fixture
async def behind_cloudfront(tmp_path, database_url, outbox):
    settings = make_settings(
        tmp_path,
        database_url,
        trusted_proxies=["10.40.0.0/16"],
        client_ip_header="CloudFront-Viewer-Address",
        rate_limit_requests=3,
        log_json=True,
    )
    application = create_app(settings, mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=ALB)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, Factory(client, outbox)


def edge(viewer: str) -> dict[str, str]:
    """What the task receives for a viewer: CloudFront's header, the ALB's X-Forwarded-For."""
    return {"CloudFront-Viewer-Address": f"{viewer}:40000", "X-Forwarded-For": f"{viewer}, {EDGE}"}


async def test_rate_limit_sessions_and_log_name_the_viewer(behind_cloudfront, caplog):
    client, factory = behind_cloudfront
    user = await factory.user()  # register + verify: two /api requests from the test address
    caplog.set_level(logging.INFO, logger="mdreader.access")
    r = await client.post(
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers=edge(VIEWER),
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    sessions = await client.get(
        "/api/auth/sessions", headers={"Authorization": f"Bearer {token}", **edge(VIEWER)}
    )
    assert VIEWER in [s["ip"] for s in sessions.json()]
    logged = [
        getattr(rec, "client", None) for rec in caplog.records if rec.name == "mdreader.access"
    ]
    assert VIEWER in logged and EDGE not in logged
    # The viewer has used 2 of 3 requests; the third passes, the fourth is refused...
    assert (await client.get("/api/auth/me", headers=edge(VIEWER))).status_code == 401
    limited = await client.get("/api/auth/me", headers=edge(VIEWER))
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    # ...while another viewer behind the same edge is not limited.
    assert (await client.get("/api/auth/me", headers=edge("198.51.100.99"))).status_code == 401
