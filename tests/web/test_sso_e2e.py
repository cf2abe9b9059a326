"""Single sign-on in the browser: Chromium signs in through a real OpenID Connect provider
(tests/oidc/node, the certified oidc-provider package) and out again, against a real server
(web/e2e/sso.oidc.mjs; not among the *.e2e.mjs scripts, which run on a server without it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.web import WebServer, database, prepare_web, run_e2e, web_server

from tests.conftest import BACKEND, PG_ADMIN_URL, REDIS_URL, unavailable
from tests.oidc.harness import OidcProvider, ensure_provider_modules

ACCOUNTS = {
    "ada@example.com": {"email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace"},
    "taken@example.com": {"email": "taken@example.com", "email_verified": False, "name": "Mallory"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    error = prepare_web()
    if error:
        pytest.fail(error)
    error = ensure_provider_modules()
    if error:
        unavailable(error)
    provider = OidcProvider()
    providers = [
        {
            "name": "corp",
            "label": "Company login",
            "issuer": provider.issuer,
            "client_id": "mdreader-e2e",
            "client_secret": "e2e-secret-" + "s" * 32,
        }
    ]
    env = {
        "MDREADER_OIDC_PROVIDERS": json.dumps(providers),
        "MDREADER_TEST_PUBLIC_URL": "http://127.0.0.1:{port}",
    }
    tmp: Path = tmp_path_factory.mktemp("web-sso")
    try:
        with (
            database(BACKEND, PG_ADMIN_URL, tmp) as url,
            web_server(url, REDIS_URL, tmp, env) as live,
        ):
            provider.configure(
                [
                    {
                        "client_id": "mdreader-e2e",
                        "client_secret": providers[0]["client_secret"],
                        "redirect_uris": [f"{live.base_url}/api/auth/oidc/corp/callback"],
                        "post_logout_redirect_uris": [f"{live.base_url}/signin"],
                    }
                ],
                ACCOUNTS,
            )
            yield live
    finally:
        provider.stop()


@pytest.mark.timeout(600)
def test_sso_in_the_browser(server: WebServer) -> None:
    result = run_e2e("sso.oidc.mjs", server)
    if result.returncode != 0:
        pytest.fail(
            f"sso.oidc.mjs failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}\n"
            f"--- server log (tail) ---\n{server.mail_log.read_text()[-4000:]}",
            pytrace=False,
        )
