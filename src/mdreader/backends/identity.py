"""Who a bearer token names: MDReader's own access tokens, or Amazon Cognito's.

``IdentityProvider.verify`` turns a token into an ``Identity`` (or None); the API maps it to a
local user (``mdreader.services.identity``). With ``MDREADER_AUTH_PROVIDER=cognito`` tokens
signed by the user pool (RS256, checked against the pool's JWKS, issuer, audience/client id,
``token_use`` and expiry) are accepted, and MDReader's own tokens keep working beside them so
that accounts can move over gradually.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from mdreader.auth.tokens import decode_access_token
from mdreader.settings import Settings


@dataclass(frozen=True, slots=True)
class Identity:
    provider: str  # "local" or "cognito"
    subject: str  # the local user id, or the Cognito sub
    expires_at: int
    session_id: uuid.UUID | None = None  # local tokens name a session
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


@functools.lru_cache(maxsize=4096)
def _local_identity(key: str, token: str) -> Identity | None:
    """Signature and claims checked once per token: a client sends the same token with every
    request until it expires, and verifying costs more than the rest of a cached read. The
    caller re-checks expiry on every use."""
    claims = decode_access_token(key, token)
    if claims is None:
        return None
    return Identity("local", str(claims.user_id), claims.expires_at, session_id=claims.session_id)


class IdentityProvider(Protocol):
    async def verify(self, token: str) -> Identity | None:
        """The identity behind a valid token; None for anything invalid or expired."""

    async def email_of(self, token: str) -> tuple[str, bool] | None:
        """(e-mail, verified) of the token's user when the token does not carry it."""


class LocalIdentityProvider:
    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key

    async def verify(self, token: str) -> Identity | None:
        identity = _local_identity(self.secret_key, token)
        if identity is None or identity.expires_at <= time.time():
            return None
        return identity

    async def email_of(self, token: str) -> tuple[str, bool] | None:
        return None


class CognitoIdentityProvider:
    """Verifies the user pool's ID and access tokens; delegates HS256 tokens to ``local``."""

    def __init__(
        self,
        *,
        region: str,
        user_pool_id: str,
        client_id: str,
        jwks_url: str | None = None,
        local: IdentityProvider | None = None,
        idp_client: Any = None,
        leeway: int = 30,
    ) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_id = client_id
        self.jwks = jwt.PyJWKClient(
            jwks_url or f"{self.issuer}/.well-known/jwks.json",
            cache_jwk_set=True,
            lifespan=3600,
            timeout=5,
        )
        self.local = local
        self.region = region
        self._idp_client = idp_client
        self.leeway = leeway

    @classmethod
    def from_settings(cls, settings: Settings, secret_key: str) -> CognitoIdentityProvider:
        pool = settings.cognito_user_pool_id
        assert pool and settings.cognito_client_id
        region = settings.cognito_region or pool.split("_", 1)[0]
        return cls(
            region=region,
            user_pool_id=pool,
            client_id=settings.cognito_client_id,
            jwks_url=settings.cognito_jwks_url,
            local=LocalIdentityProvider(secret_key),
        )

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("alg") != "RS256" or not header.get("kid"):
            return None
        try:
            key = self.jwks.get_signing_key(header["kid"])
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=self.leeway,
                options={
                    "require": ["exp", "iat", "iss", "sub", "token_use"],
                    "verify_aud": False,  # access tokens have client_id instead; checked below
                },
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            return None
        use = claims.get("token_use")
        if use == "id":
            audience = claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if self.client_id not in audiences:
                return None
        elif use == "access":
            if claims.get("client_id") != self.client_id:
                return None
        else:
            return None
        return claims

    async def verify(self, token: str) -> Identity | None:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            return None
        if alg != "RS256":
            return await self.local.verify(token) if self.local else None
        # The key set is fetched once and cached; verifying is CPU only after that.
        claims = await asyncio.to_thread(self._decode, token)
        if claims is None:
            return None
        verified = claims.get("email_verified")
        if isinstance(verified, str):
            verified = verified.lower() == "true"
        return Identity(
            "cognito",
            str(claims["sub"]),
            int(claims["exp"]),
            email=claims.get("email"),
            email_verified=bool(verified),
            name=claims.get("name") or claims.get("cognito:username") or claims.get("username"),
        )

    def _client(self) -> Any:
        if self._idp_client is None:
            import boto3

            self._idp_client = boto3.client("cognito-idp", region_name=self.region)
        return self._idp_client

    def _email_sync(self, token: str) -> tuple[str, bool] | None:
        try:
            user = self._client().get_user(AccessToken=token)
        except Exception:
            return None
        attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        email = attributes.get("email")
        if not email:
            return None
        return email, attributes.get("email_verified", "false").lower() == "true"

    async def email_of(self, token: str) -> tuple[str, bool] | None:
        try:
            if jwt.decode(token, options={"verify_signature": False}).get("token_use") != "access":
                return None
        except jwt.PyJWTError:
            return None
        return await asyncio.to_thread(self._email_sync, token)


def create_identity_provider(settings: Settings, secret_key: str) -> IdentityProvider:
    if settings.auth_provider == "cognito":
        return CognitoIdentityProvider.from_settings(settings, secret_key)
    return LocalIdentityProvider(secret_key)
