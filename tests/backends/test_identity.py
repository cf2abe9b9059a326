"""IdentityProvider: one contract over the local provider and Cognito (moto in server mode,
which issues real RS256 tokens and serves the pool's JWKS), then Cognito sign-in through the
API: users mapped by sub, then by verified e-mail, created on first sight."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from mdreader.app import create_app
from mdreader.auth.tokens import issue_access_token
from mdreader.backends.identity import (
    CognitoIdentityProvider,
    IdentityProvider,
    LocalIdentityProvider,
)
from tests.conftest import PASSWORD, Factory, Moto, make_settings

SECRET = "identity-test-secret-" + "x" * 40


@dataclass
class Pool:
    moto: Moto
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.moto.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.moto.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def user(self, email: str | None = None, verified: bool = True) -> str:
        """A confirmed user; returns the username."""
        client = self.moto.client("cognito-idp")
        username = f"u{uuid.uuid4().hex[:10]}"
        attributes = []
        if email:
            attributes = [
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true" if verified else "false"},
            ]
        client.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
        client.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        return username

    def tokens(self, username: str) -> dict[str, str]:
        result = self.moto.client("cognito-idp").admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return result["AuthenticationResult"]

    def forge(self, **claims: Any) -> str:
        """A token signed with the pool's own key (moto's), with chosen claims."""
        from moto.utilities.utils import load_resource

        key = RSAAlgorithm.from_jwk(load_resource("cognitoidp/resources/jwks-private.json"))
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": str(uuid.uuid4()),
            "aud": self.client_id,
            "token_use": "id",
            "iat": now,
            "exp": now + 600,
            "email": "forged@example.com",
            "email_verified": True,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "dummy"})


@pytest.fixture
def pool(moto: Moto) -> Pool:
    client = moto.client("cognito-idp")
    pool_id = client.create_user_pool(PoolName=f"p{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", "name"],
    )["UserPoolClient"]["ClientId"]
    return Pool(moto, pool_id, client_id)


def cognito_provider(pool: Pool) -> CognitoIdentityProvider:
    return CognitoIdentityProvider(
        region=pool.moto.region,
        user_pool_id=pool.pool_id,
        client_id=pool.client_id,
        jwks_url=pool.jwks_url,
        local=LocalIdentityProvider(SECRET),
    )


@dataclass
class Case:
    provider: IdentityProvider
    issue: Callable[[], tuple[str, str]]  # → (token, expected subject)
    expired: Callable[[], str]


@pytest.fixture(params=["local", "cognito"])
def case(request) -> Case:
    if request.param == "local":
        user_id, session_id = uuid.uuid4(), uuid.uuid4()
        return Case(
            LocalIdentityProvider(SECRET),
            lambda: (issue_access_token(SECRET, user_id, session_id, 600), str(user_id)),
            lambda: issue_access_token(SECRET, user_id, session_id, -120),
        )
    pool: Pool = request.getfixturevalue("pool")

    def issue() -> tuple[str, str]:
        username = pool.user("c@example.com")
        token = pool.tokens(username)["IdToken"]
        return token, jwt.decode(token, options={"verify_signature": False})["sub"]

    return Case(cognito_provider(pool), issue, lambda: pool.forge(exp=int(time.time()) - 120))


async def test_valid_token_names_its_subject(case: Case):
    token, subject = case.issue()
    identity = await case.provider.verify(token)
    assert identity is not None
    assert identity.subject == subject
    assert identity.expires_at > time.time()


async def test_tampered_garbage_and_expired_tokens_are_refused(case: Case):
    token, _ = case.issue()
    head, body, sig = token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    for bad in (f"{head}.{body}.{flipped}", "garbage", "", "a.b.c", case.expired()):
        assert await case.provider.verify(bad) is None, bad


async def test_unsigned_and_other_key_tokens_are_refused(case: Case):
    token, _ = case.issue()
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert await case.provider.verify(unsigned) is None
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "dummy"})
    assert await case.provider.verify(foreign) is None
    assert (
        await case.provider.verify(jwt.encode(claims, "a-guessed-key-" * 4, algorithm="HS256"))
        is None
    )


async def test_cognito_checks_issuer_audience_and_token_use(pool: Pool):
    provider = cognito_provider(pool)
    assert await provider.verify(pool.forge()) is not None
    assert await provider.verify(pool.forge(iss="https://evil.example.com")) is None
    assert await provider.verify(pool.forge(aud="another-client")) is None
    assert await provider.verify(pool.forge(token_use="refresh")) is None
    assert await provider.verify(pool.forge(token_use=None)) is None
    assert (
        await provider.verify(pool.forge(token_use="access", aud=None, client_id=pool.client_id))
        is not None
    )
    assert (
        await provider.verify(pool.forge(token_use="access", aud=None, client_id="other")) is None
    )
    # Access tokens carry no e-mail; the provider asks Cognito for it.
    username = pool.user("who@example.com")
    access = pool.tokens(username)["AccessToken"]
    identity = await provider.verify(access)
    assert identity is not None and identity.email is None
    assert await provider.email_of(access) == ("who@example.com", True)
    # MDReader's own tokens keep working beside Cognito's.
    local = issue_access_token(SECRET, uuid.uuid4(), uuid.uuid4(), 600)
    assert (await provider.verify(local)).provider == "local"


def cognito_settings(tmp_path, database_url: str, pool: Pool, **extra: Any):
    """Settings of an app in cognito mode against the moto pool."""
    return make_settings(
        tmp_path,
        database_url,
        auth_provider="cognito",
        cognito_user_pool_id=pool.pool_id,
        cognito_client_id=pool.client_id,
        cognito_region=pool.moto.region,
        cognito_jwks_url=pool.jwks_url,
        **extra,
    )


@pytest.fixture
async def cognito_app(tmp_path, database_url, outbox, pool: Pool):
    settings = cognito_settings(tmp_path, database_url, pool)
    app = create_app(settings, mailer=outbox)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_cognito_user_is_created_on_first_sight_then_found_by_sub(cognito_app, pool: Pool):
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    tokens = pool.tokens(pool.user(email))
    r = await cognito_app.get("/api/auth/me", headers=bearer(tokens["IdToken"]))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["email"] == email and me["email_verified"] is True
    # The access token (no e-mail in it) names the same user, by sub.
    r = await cognito_app.get("/api/auth/me", headers=bearer(tokens["AccessToken"]))
    assert r.json()["id"] == me["id"]
    # The user can work like any other.
    r = await cognito_app.post(
        "/api/workspaces", json={"name": "Mine"}, headers=bearer(tokens["AccessToken"])
    )
    assert r.status_code == 201


async def test_access_token_alone_creates_the_user_with_cognitos_email(cognito_app, pool: Pool):
    email = f"acc-{uuid.uuid4().hex[:6]}@example.com"
    tokens = pool.tokens(pool.user(email))
    r = await cognito_app.get("/api/auth/me", headers=bearer(tokens["AccessToken"]))
    assert r.status_code == 200, r.text
    assert r.json()["email"] == email


async def test_existing_local_account_is_linked_by_verified_email_only(
    cognito_app, pool: Pool, outbox
):
    factory = Factory(cognito_app, outbox)
    local = await factory.user("local")
    # An unverified Cognito address must not take over the local account.
    unverified = pool.tokens(pool.user(local.email, verified=False))
    r = await cognito_app.get("/api/auth/me", headers=bearer(unverified["IdToken"]))
    assert r.status_code == 401
    verified = pool.tokens(pool.user(local.email.upper()))
    r = await cognito_app.get("/api/auth/me", headers=bearer(verified["IdToken"]))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == local.id
    # Once linked, a different Cognito user with that address gets nothing.
    again = pool.tokens(pool.user(local.email))
    assert (
        await cognito_app.get("/api/auth/me", headers=bearer(again["IdToken"]))
    ).status_code == 401
    # Local tokens still work in cognito mode.
    assert (await cognito_app.get("/api/auth/me", headers=local.headers)).status_code == 200


async def test_bad_cognito_tokens_are_401(cognito_app, pool: Pool):
    expired = pool.forge(exp=int(time.time()) - 600)
    r = await cognito_app.get("/api/auth/me", headers=bearer(expired))
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
