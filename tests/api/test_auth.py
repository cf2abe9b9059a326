"""Every auth row of the contract."""

from __future__ import annotations

import base64
import json
import time
import uuid

import bcrypt
import jwt
import pyotp
import pytest
from sqlalchemy import select
from support.passwords import PRODUCTION_HASHER

from mdreader.auth.passwords import describe_policy
from mdreader.db.models import User as UserRow
from mdreader.db.models import UserToken
from tests.conftest import PASSWORD, Factory, make_settings

NEW_PASSWORD = "Another-horse-2"


async def test_register_returns_user_and_sends_verification(client, outbox):
    r = await client.post(
        "/api/auth/register",
        json={"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"},
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"id", "email", "name", "email_verified"}
    assert body["email"] == "ada@example.com"
    assert body["email_verified"] is False
    message = outbox.last_to("ada@example.com")
    assert "/verify-email?token=" in message.text and "/verify-email?token=" in message.html


async def test_register_conflict_and_policy(client):
    body = {"email": "bob@example.com", "password": PASSWORD, "name": "Bob"}
    assert (await client.post("/api/auth/register", json=body)).status_code == 201
    r = await client.post("/api/auth/register", json={**body, "email": "BOB@example.com"})
    assert r.status_code == 409 and r.json()["code"] == "email_taken"
    for weak in ["short1!", "alllowercase1!", "ALLUPPERCASE1!", "NoDigits!!", "NoSymbols123"]:
        r = await client.post(
            "/api/auth/register",
            json={"email": f"{uuid.uuid4().hex}@example.com", "password": weak, "name": "x"},
        )
        assert r.status_code == 422, weak
        assert isinstance(r.json()["detail"], str) and r.json()["code"] == "weak_password"
    r = await client.post(
        "/api/auth/register", json={"email": "not-an-email", "password": PASSWORD, "name": "x"}
    )
    assert r.status_code == 422


async def test_providers_state_the_password_policy(client):
    """The sign-up form shows the server's policy (the web app copies no rule of it)."""
    r = await client.get("/api/auth/providers")
    assert r.json()["password_rule"] == (
        "At least 8 characters with upper and lower case letters, a digit and a symbol."
    )


@pytest.mark.database_independent
def test_the_policy_sentence_follows_the_settings(tmp_path):
    base = make_settings(tmp_path, "sqlite+aiosqlite://")
    sentence = lambda **kw: describe_policy(base.model_copy(update=kw))  # noqa: E731
    assert sentence(password_min_length=12, password_require_symbol=False) == (
        "At least 12 characters with upper and lower case letters and a digit."
    )
    assert sentence(password_require_lower=False, password_require_digit=False) == (
        "At least 8 characters with an upper-case letter and a symbol."
    )
    assert sentence(
        password_require_upper=False, password_require_digit=False, password_require_symbol=False
    ) == ("At least 8 characters with a lower-case letter.")
    none = {f"password_require_{k}": False for k in ("upper", "lower", "digit", "symbol")}
    assert sentence(**none) == "At least 8 characters."


async def test_login_me_and_wrong_password(client, factory: Factory):
    user = await factory.user("carol")
    r = await client.get("/api/auth/me", headers=user.headers)
    assert r.status_code == 200 and r.json()["email"] == user.email
    r = await client.post("/api/auth/login", json={"email": user.email, "password": "Wrong-pass-1"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    r = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    r = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 3600
    assert (await client.get("/api/auth/me")).status_code == 401


def _forge(token: str, **changes) -> str:
    header_b64, payload_b64, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    header = json.loads(base64.urlsafe_b64decode(pad(header_b64)))
    payload = json.loads(base64.urlsafe_b64decode(pad(payload_b64)))
    header.update(changes.pop("header", {}))
    payload.update(changes)
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc(header)}.{enc(payload)}.{signature}"


async def test_jwt_none_tampered_expired_rejected(client, factory: Factory, settings):
    user = await factory.user()
    token = user.access_token
    claims = jwt.decode(token, options={"verify_signature": False})
    cases = {
        "alg none": _forge(token, header={"alg": "none"}).rsplit(".", 1)[0] + ".",
        "tampered sub": _forge(token, sub=str(uuid.uuid4())),
        "wrong key": jwt.encode(claims, "another-key-" + "y" * 64, algorithm="HS256"),
        "expired": jwt.encode(
            {**claims, "exp": int(time.time()) - 10},
            settings.resolved_secret_key,
            algorithm="HS256",
        ),
        "HS512": jwt.encode(claims, settings.resolved_secret_key, algorithm="HS512"),
        "not access": jwt.encode(
            {**claims, "typ": "refresh"}, settings.resolved_secret_key, algorithm="HS256"
        ),
        "garbage": "not.a.token",
    }
    for name, bad in cases.items():
        r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, name
        assert r.json()["code"] == "invalid_token", name


async def test_refresh_rotation_and_reuse_revokes_session(client, factory: Factory):
    user = await factory.user()
    r = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != user.refresh_token
    new_headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.get("/api/auth/me", headers=new_headers)).status_code == 200
    # The old refresh token is dead; presenting it again ends the whole session.
    r = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status_code == 401 and r.json()["code"] == "refresh_token_reused"
    assert (await client.get("/api/auth/me", headers=new_headers)).status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401
    r = await client.post("/api/auth/refresh", json={"refresh_token": "unknown"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_logout_ends_session(client, factory: Factory):
    user = await factory.user()
    r = await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 401
    assert (
        await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    ).status_code == 401


async def test_sessions_list_and_revoke(client, factory: Factory):
    user = await factory.user()
    other = await factory.login(user.id, user.email, user.password)
    r = await client.get("/api/auth/sessions", headers=user.headers)
    sessions = r.json()
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    assert {"id", "device", "ip", "last_seen_at"} <= set(sessions[0])
    assert sessions[0]["ip"] == "203.0.113.7"
    other_id = next(s["id"] for s in sessions if not s["current"])
    assert (
        await client.delete(f"/api/auth/sessions/{other_id}", headers=user.headers)
    ).status_code == 204
    assert (await client.get("/api/auth/me", headers=other.headers)).status_code == 401
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200
    stranger = await factory.user()
    r = await client.delete(f"/api/auth/sessions/{other_id}", headers=stranger.headers)
    assert r.status_code == 404


async def test_email_verification_single_use(client, factory: Factory, outbox):
    user = await factory.user()
    token = outbox.token_for(user.email)
    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"
    r = await client.post("/api/auth/verify-email", json={"token": "forged"})
    assert r.status_code == 400
    r = await client.post("/api/auth/verify-email/resend", headers=user.headers)
    assert r.status_code == 409


async def test_password_reset_flow(client, factory: Factory, outbox, app):
    user = await factory.user()
    other_session = await factory.login(user.id, user.email, user.password)
    before = len(outbox.sent)
    r = await client.post("/api/auth/password-reset", json={"email": "nobody@example.com"})
    assert r.status_code == 202
    assert len(outbox.sent) == before  # no e-mail, same answer: no enumeration
    r = await client.post("/api/auth/password-reset", json={"email": user.email.upper()})
    assert r.status_code == 202
    token = outbox.token_for(user.email)
    r = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "weak"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert r.status_code == 204
    # Every session of the user is revoked; the token is single-use; the new password works.
    for headers in (user.headers, other_session.headers):
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
    r = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert r.status_code == 400
    assert (
        await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    ).status_code == 401
    assert (
        await client.post("/api/auth/login", json={"email": user.email, "password": NEW_PASSWORD})
    ).status_code == 200


async def test_password_reset_token_expires_after_an_hour(client, factory: Factory, outbox, app):
    from datetime import timedelta

    user = await factory.user()
    await client.post("/api/auth/password-reset", json={"email": user.email})
    token = outbox.token_for(user.email)
    db = app.state.services.db
    async with db.session() as session:
        row = (
            await session.scalars(select(UserToken).where(UserToken.purpose == "password_reset"))
        ).one()
        assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
        row.expires_at = row.created_at - timedelta(seconds=1)
    r = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"


async def test_a_reset_link_dies_when_the_password_changes(client, factory: Factory, outbox):
    user = await factory.user()
    await client.post("/api/auth/password-reset", json={"email": user.email})
    token = outbox.token_for(user.email)
    r = await client.post(
        "/api/auth/password-change",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert r.status_code == 204
    r = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "Other-pass-3!"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"
    r = await client.post("/api/auth/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert r.status_code == 200


async def test_password_change(client, factory: Factory):
    user = await factory.user()
    other = await factory.login(user.id, user.email, user.password)
    r = await client.post(
        "/api/auth/password-change",
        json={"current_password": "Wrong-pass-1", "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert r.status_code == 400
    r = await client.post(
        "/api/auth/password-change",
        json={"current_password": PASSWORD, "new_password": "weak"},
        headers=user.headers,
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/auth/password-change",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=user.headers)).status_code == 200
    assert (await client.get("/api/auth/me", headers=other.headers)).status_code == 401
    assert (
        await client.post("/api/auth/login", json={"email": user.email, "password": NEW_PASSWORD})
    ).status_code == 200


def test_production_passwords_are_argon2id_low_memory_profile():
    # The suite hashes at Argon2id's lowest cost (support/passwords.py); MDReader itself uses
    # RFC 9106's low-memory profile.
    assert PRODUCTION_HASHER.type.name == "ID"
    params = (PRODUCTION_HASHER.time_cost, PRODUCTION_HASHER.memory_cost)
    assert params == (3, 64 * 1024)
    assert PRODUCTION_HASHER.parallelism == 4
    assert PRODUCTION_HASHER.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_bcrypt_hash_accepted_and_upgraded(client, factory: Factory, app):
    user = await factory.user()
    legacy = bcrypt.hashpw(b"Legacy-pass-9", bcrypt.gensalt(rounds=4)).decode()
    async with app.state.services.db.session() as session:
        row = await session.get(UserRow, uuid.UUID(user.id))
        row.password_hash = legacy
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "Legacy-pass-9"}
    )
    assert r.status_code == 200
    async with app.state.services.db.session() as session:
        row = await session.get(UserRow, uuid.UUID(user.id))
        assert row.password_hash.startswith("$argon2id$")
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "Legacy-pass-9"}
    )
    assert r.status_code == 200


async def test_totp_enrol_login_and_disable(client, factory: Factory):
    user = await factory.user()
    r = await client.post("/api/auth/mfa/totp", headers=user.headers)
    assert r.status_code == 200
    enrol = r.json()
    assert enrol["otpauth_uri"].startswith("otpauth://totp/MDReader:")
    totp = pyotp.TOTP(enrol["secret"])
    r = await client.post(
        "/api/auth/mfa/totp/confirm", json={"code": "000000"}, headers=user.headers
    )
    assert r.status_code == 400
    r = await client.post(
        "/api/auth/mfa/totp/confirm", json={"code": totp.now()}, headers=user.headers
    )
    assert r.status_code == 200 and r.json()["mfa_enabled"] is True

    r = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "mfa_required"
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD, "totp_code": "123456"}
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    # The code used at confirmation cannot be replayed; the next time step's code works.
    next_code = totp.at(time.time() + totp.interval)
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD, "totp_code": next_code}
    )
    assert r.status_code == 200
    r = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD, "totp_code": next_code}
    )
    assert r.status_code == 401, "a used code must not work twice"
    r = await client.request(
        "DELETE", "/api/auth/mfa/totp", json={"code": "000000"}, headers=user.headers
    )
    assert r.status_code == 400
    # Codes within the window, not yet used: a step ahead of the last used one is refused, so
    # wait for it only when needed.
    r = await client.post("/api/auth/mfa/totp", headers=user.headers)
    assert r.status_code == 409


async def test_login_throttled_per_account_with_retry_after(client, factory: Factory):
    user = await factory.user()
    for _ in range(5):
        r = await client.post(
            "/api/auth/login", json={"email": user.email, "password": "Wrong-pass-1"}
        )
        assert r.status_code == 401
    r = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["code"] == "rate_limited"
    # A spoofed X-Forwarded-For changes nothing: no proxy is trusted.
    r = await client.post(
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert r.status_code == 429


async def test_login_throttle_holds_for_100_parallel_attempts(client, factory: Factory, app):
    """At most the limit of password checks per account and window, however many attempts
    arrive at once (the limiter counts before the check, atomically on every backend)."""
    import asyncio

    user = await factory.user()
    answers = await asyncio.gather(
        *(
            client.post("/api/auth/login", json={"email": user.email, "password": f"Wrong-{i}"})
            for i in range(100)
        )
    )
    codes = [r.status_code for r in answers]
    assert codes.count(401) == app.state.services.settings.login_max_failures_per_account
    assert codes.count(429) == 100 - codes.count(401)
    locked = next(r for r in answers if r.status_code == 429)
    assert "reset your password" in locked.json()["detail"]
    assert "Forgot your password?" in locked.json()["detail"]


async def test_a_reset_lets_the_owner_in_while_others_keep_the_account_locked(
    app, factory: Factory, outbox
):
    import httpx

    user = await factory.user()

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with client_at("198.51.100.66") as attacker, client_at("192.0.2.10") as owner:

        async def attack() -> None:
            for _ in range(6):
                await attacker.post(
                    "/api/auth/login", json={"email": user.email, "password": "Wrong-pass-1"}
                )

        await attack()
        r = await owner.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 429
        await owner.post("/api/auth/password-reset", json={"email": user.email})
        token = outbox.token_for(user.email)
        r = await owner.post(
            "/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert r.status_code == 204
        await attack()  # locks the account again, for everyone but where the reset was made
        r = await attacker.post(
            "/api/auth/login", json={"email": user.email, "password": NEW_PASSWORD}
        )
        assert r.status_code == 429
        r = await owner.post(
            "/api/auth/login", json={"email": user.email, "password": NEW_PASSWORD}
        )
        assert r.status_code == 200, r.text


async def test_login_throttled_per_ip_and_xff_cannot_reset(client, factory: Factory, app):
    app.state.services.settings.login_max_failures_per_ip = 4
    victim = await factory.user()
    for i in range(4):
        r = await client.post(
            "/api/auth/login",
            json={"email": f"guess{i}@example.com", "password": "Wrong-pass-1"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        assert r.status_code == 401
    r = await client.post(
        "/api/auth/login",
        json={"email": victim.email, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert r.status_code == 429


async def test_trusted_proxy_forwarded_address_counts(app, factory: Factory):
    import httpx

    from mdreader.access.address import client_ip

    class Req:
        def __init__(self, peer, xff):
            self.client = type("C", (), {"host": peer})()
            self.headers = {"x-forwarded-for": xff}

    assert client_ip(Req("10.0.0.5", "198.51.100.1"), []) == "10.0.0.5"
    assert client_ip(Req("10.0.0.5", "198.51.100.1, 10.0.0.9"), ["10.0.0.0/8"]) == "198.51.100.1"
    assert client_ip(Req("203.0.113.1", "198.51.100.1"), ["10.0.0.0/8"]) == "203.0.113.1"
    # With a trusted proxy, the address the proxy saw is what is throttled.
    app.state.services.settings.trusted_proxies = ["203.0.113.0/24"]
    app.state.services.settings.login_max_failures_per_ip = 2
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for _ in range(2):
            await c.post(
                "/api/auth/login",
                json={"email": "x@example.com", "password": "Wrong-pass-1"},
                headers={"X-Forwarded-For": "198.51.100.5"},
            )
        r = await c.post(
            "/api/auth/login",
            json={"email": "y@example.com", "password": "Wrong-pass-1"},
            headers={"X-Forwarded-For": "198.51.100.5"},
        )
        assert r.status_code == 429
        r = await c.post(
            "/api/auth/login",
            json={"email": "y@example.com", "password": "Wrong-pass-1"},
            headers={"X-Forwarded-For": "198.51.100.6"},
        )
        assert r.status_code == 401


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/auth/refresh"])
async def test_auth_bad_bodies_are_4xx(client, path):
    for body in [b"", b"[]", b'{"email": 5}', b"\xff\xfe", b"{" * 1000]:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
