"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node, run here).

Each test walks the flow a browser walks: the app's login route, the provider's sign-in and
consent pages, the callback, and the web app's trade of the one-time code for tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mdreader.app import create_app
from mdreader.auth import oidc
from mdreader.settings import Settings
from tests.conftest import Factory, make_settings, unavailable
from tests.oidc.harness import Browser, OidcProvider, ensure_provider_modules

PUBLIC = "http://localhost:8000"
ACCOUNTS = {
    "unverified@example.com": {"email": "unverified@example.com", "email_verified": False},
    "noemail": {"name": "No Mail"},
}


def _client(name: str) -> dict[str, Any]:
    return {
        "client_id": f"mdreader-{name}",
        "client_secret": f"secret-{name}-" + "s" * 32,
        "redirect_uris": [f"{PUBLIC}/api/auth/oidc/{name}/callback"],
        "post_logout_redirect_uris": [f"{PUBLIC}/signin"],
    }


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    error = ensure_provider_modules()
    if error:
        unavailable(error)
    running = OidcProvider().configure(
        [_client("alpha"), _client("beta"), _client("gamma")], ACCOUNTS
    )
    yield running
    running.stop()


def _providers(issuer: str, **overrides: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, extra in (
        ("alpha", {"label": "Alpha ID"}),
        ("beta", {"allowed_domains": ["corp.example.net"], "create_users": False}),
        ("gamma", {}),
    ):
        client = _client(name)
        entry = {
            "name": name,
            "issuer": issuer,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            **extra,
            **overrides.get(name, {}),
        }
        out.append(entry)
    return out


@pytest.fixture
async def settings(tmp_path, database_url, provider) -> Settings:
    return make_settings(
        tmp_path, database_url, oidc_providers=_providers(provider.issuer), public_url=PUBLIC
    )


@pytest.fixture
async def browser(app) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        b = Browser(c, PUBLIC)
        yield b
        await b.close()


def _fragment(r: httpx.Response) -> dict[str, str]:
    location = r.headers["location"]
    assert location.startswith(f"{PUBLIC}/auth/sso#"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def _sso_error(r: httpx.Response) -> str:
    location = r.headers["location"]
    assert location.startswith(f"{PUBLIC}/signin?"), location
    return parse_qs(urlsplit(location).query)["sso_error"][0]


async def _sign_in(
    browser: Browser, client: httpx.AsyncClient, login: str, provider: str = "alpha"
) -> dict[str, Any]:
    r = await browser.sign_in(f"{PUBLIC}/api/auth/oidc/{provider}/login?next=/w/1", login)
    fragment = _fragment(r)
    assert fragment["next"] == "/w/1" and fragment["provider"] == provider
    pair = await client.post("/api/auth/oidc/exchange", json={"code": fragment["code"]})
    assert pair.status_code == 200, pair.text
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {pair.json()['access_token']}"}
    )
    assert me.status_code == 200, me.text
    return {**pair.json(), "me": me.json(), "code": fragment["code"]}


async def test_providers_list_the_buttons(client):
    r = await client.get("/api/auth/providers")
    assert r.status_code == 200
    body = r.json()
    assert body["provider"] == "local" and body["password"] is True
    assert [(p["name"], p["label"]) for p in body["oidc"]] == [
        ("alpha", "Alpha ID"),
        ("beta", "beta"),
        ("gamma", "gamma"),
    ]
    assert body["oidc"][0]["login_url"] == f"{PUBLIC}/api/auth/oidc/alpha/login"


async def test_first_sign_in_makes_a_verified_account_and_the_next_finds_it(browser, client):
    first = await _sign_in(browser, client, "new.person@example.com")
    assert first["me"]["email"] == "new.person@example.com"
    assert first["me"]["email_verified"] is True
    again = await _sign_in(browser, client, "new.person@example.com")
    assert again["me"]["id"] == first["me"]["id"]
    # The one-time code is spent.
    r = await client.post("/api/auth/oidc/exchange", json={"code": first["code"]})
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    # The session is an ordinary one: listed, refreshable, ended by logout.
    headers = {"Authorization": f"Bearer {again['access_token']}"}
    sessions = await client.get("/api/auth/sessions", headers=headers)
    assert len(sessions.json()) == 2
    r = await client.post("/api/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert r.status_code == 200


async def test_the_authorization_request_uses_pkce_state_and_nonce(browser):
    r = await browser.app.get("/api/auth/oidc/alpha/login")
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    pending = oidc.unseal(
        browser.app._transport.app.state.services.secret_key, r.cookies[oidc.COOKIE]
    )  # type: ignore[attr-defined]
    assert pending is not None
    assert query["state"] == [pending.state] and query["nonce"] == [pending.nonce]
    assert "httponly" in r.headers["set-cookie"].lower()


async def test_an_existing_account_is_linked_through_a_verified_address(
    browser, client, factory: Factory
):
    user = await factory.user("linked")
    signed = await _sign_in(browser, client, user.email)
    assert signed["me"]["id"] == user.id
    # The password still works beside it.
    r = await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200


async def test_an_unverified_address_never_takes_over_an_account(browser, client, factory: Factory):
    r = await client.post(
        "/api/auth/register",
        json={"email": "unverified@example.com", "password": "Str0ng!pass", "name": "Owner"},
    )
    assert r.status_code == 201
    answer = await browser.sign_in(f"{PUBLIC}/api/auth/oidc/alpha/login", "unverified@example.com")
    assert "has not verified that address" in _sso_error(answer)


async def test_unverified_address_makes_an_unverified_account(browser, client):
    signed = await _sign_in(browser, client, "unverified@example.com")
    assert signed["me"]["email_verified"] is False


async def test_allowed_domains_and_no_new_users(browser, client, factory: Factory):
    answer = await browser.sign_in(f"{PUBLIC}/api/auth/oidc/beta/login", "someone@example.com")
    assert "example.com may not sign in with beta" in _sso_error(answer)
    answer = await browser.sign_in(f"{PUBLIC}/api/auth/oidc/beta/login", "new@corp.example.net")
    assert "no MDReader account for new@corp.example.net" in _sso_error(answer)
    # Invited people have accounts: those may sign in.
    r = await client.post(
        "/api/auth/register",
        json={"email": "staff@corp.example.net", "password": "Str0ng!pass", "name": "Staff"},
    )
    assert r.status_code == 201
    signed = await _sign_in(browser, client, "staff@corp.example.net", provider="beta")
    assert signed["me"]["email"] == "staff@corp.example.net"


async def test_several_providers_link_to_one_person(browser, client):
    a = await _sign_in(browser, client, "both@example.com", provider="alpha")
    g = await _sign_in(browser, client, "both@example.com", provider="gamma")
    assert a["me"]["id"] == g["me"]["id"]


async def test_no_email_claim_is_refused(browser):
    answer = await browser.sign_in(f"{PUBLIC}/api/auth/oidc/alpha/login", "noemail")
    assert "did not tell us your e-mail" in _sso_error(answer)


async def test_a_callback_without_the_browsers_pending_sign_in_is_refused(browser, app):
    r = await browser.app.get("/api/auth/oidc/alpha/login")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    # Another browser (no cookie), or a forged state: refused before any code is traded.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        r2 = await other.get(f"/api/auth/oidc/alpha/callback?code=x&state={state}")
    assert "did not start in this browser" in _sso_error(r2)
    r3 = await browser.app.get("/api/auth/oidc/alpha/callback?code=x&state=forged")
    assert "did not start here" in _sso_error(r3)
    r4 = await browser.app.get("/api/auth/oidc/alpha/callback?error=access_denied")
    assert _sso_error(r4)


async def _tampered(browser: Browser, app: Any, **change: str) -> httpx.Response:
    """A real sign-in whose pending cookie is re-sealed with one value changed just before
    the callback: what the app then checks, against the real provider's answer."""
    key = app.state.services.secret_key
    r = await browser.app.get("/api/auth/oidc/alpha/login")
    pending = oidc.unseal(key, r.cookies[oidc.COOKIE])
    assert pending is not None
    fields = {
        "provider": pending.provider,
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.verifier,
        "next": pending.next,
        **change,
    }
    browser.app.cookies.clear()
    browser.app.cookies.set(oidc.COOKIE, oidc.seal(key, oidc.Pending(**fields)))
    page = await browser.request("GET", r.headers["location"])
    for _ in range(3):
        if page.status_code in (302, 303):
            return page
        fields_ = (
            {"login": "tamper@example.com", "password": "x"} if 'name="login"' in page.text else {}
        )
        page = await browser.submit(page, **fields_)
    raise AssertionError(page.text[:500])


async def test_the_nonce_of_the_id_token_is_checked(browser, app):
    answer = await _tampered(browser, app, nonce="another-nonce")
    assert "could not be verified" in _sso_error(answer)


async def test_the_pkce_verifier_is_checked_by_the_provider(browser, app):
    answer = await _tampered(browser, app, verifier="x" * 64)
    assert "did not accept this sign-in (invalid_grant)" in _sso_error(answer)


async def test_next_is_a_local_path_only():
    assert oidc.safe_next("https://evil.example/") == "/"
    assert oidc.safe_next("//evil.example/") == "/"
    assert oidc.safe_next("/\\evil") == "/"
    assert oidc.safe_next("/d/123?x=1") == "/d/123?x=1"


async def test_sign_out_at_the_provider(browser, client):
    await _sign_in(browser, client, "leaver@example.com")
    r = await browser.app.get("/api/auth/oidc/alpha/logout")
    assert r.status_code == 302
    location = r.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["client_id"] == ["mdreader-alpha"]
    assert query["post_logout_redirect_uri"] == [f"{PUBLIC}/signin"]
    # The provider asks to confirm, then sends the browser back to the sign-in page.
    page = await browser.request("GET", location)
    assert page.status_code == 200 and "logout" in page.text.lower()
    back = await browser.submit(page, logout="yes")
    assert back.headers["location"].startswith(f"{PUBLIC}/signin")


async def test_unknown_provider_is_404(client):
    r = await client.get("/api/auth/oidc/nobody/login")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_an_unreachable_provider_is_a_sentence_not_a_500(tmp_path, database_url, outbox):
    settings = make_settings(
        tmp_path,
        database_url,
        public_url=PUBLIC,
        oidc_providers=[
            {"name": "down", "issuer": "http://127.0.0.1:9", "client_id": "c", "client_secret": "s"}
        ],
    )
    application = create_app(settings, mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/api/auth/oidc/down/login")
    assert "cannot be reached right now" in _sso_error(r)


async def test_password_login_can_be_turned_off(tmp_path, database_url, outbox, provider):
    settings = make_settings(
        tmp_path,
        database_url,
        public_url=PUBLIC,
        password_login=False,
        oidc_providers=_providers(provider.issuer),
    )
    application = create_app(settings, mailer=outbox)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/api/auth/providers")).json()["password"] is False
            for path, body in (
                ("/api/auth/login", {"email": "a@example.com", "password": "x"}),
                ("/api/auth/register", {"email": "a@example.com", "password": "x", "name": "A"}),
                ("/api/auth/password-reset", {"email": "a@example.com"}),
            ):
                r = await c.post(path, json=body)
                assert r.status_code == 403, (path, r.text)
                assert r.json()["code"] == "password_login_disabled"
            b = Browser(c, PUBLIC)
            try:
                signed = await _sign_in(b, c, "sso.only@example.com")
            finally:
                await b.close()
            assert signed["me"]["email"] == "sso.only@example.com"


def test_providers_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "MDREADER_OIDC_PROVIDERS",
        '[{"name": "keycloak", "label": "Company login", "issuer": "https://id.example.com/realms/x",'
        ' "client_id": "mdreader", "client_secret": "s3cret", "scopes": ["openid", "email"],'
        ' "allowed_domains": ["example.com"], "create_users": false}]',
    )
    monkeypatch.setenv("MDREADER_PASSWORD_LOGIN", "false")
    s = Settings(_env_file=None)
    (p,) = s.oidc_providers
    assert (p.name, p.display_name, p.client_secret, p.create_users) == (
        "keycloak",
        "Company login",
        "s3cret",
        False,
    )
    assert p.scopes == ["openid", "email"] and p.allowed_domains == ["example.com"]
    assert s.password_login is False
    assert "s3cret" not in repr(s)
    monkeypatch.setenv(
        "MDREADER_OIDC_PROVIDERS",
        '[{"name": "a", "issuer": "https://x", "client_id": "1"},'
        ' {"name": "a", "issuer": "https://y", "client_id": "2"}]',
    )
    with pytest.raises(ValueError, match="name of its own"):
        Settings(_env_file=None)
