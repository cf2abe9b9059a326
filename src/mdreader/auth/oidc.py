"""Single sign-on with OpenID Connect providers (Keycloak, Google, Entra ID, Authentik ...).

The relying-party side of the authorization code flow, done by authlib: discovery and the
provider's signing keys (``server_metadata_url``), the authorization URL with PKCE (S256) and
a nonce, the code exchange with the client secret, and the ID token's signature, issuer,
audience, expiry and nonce. What is ours: the flow's pending values (state, nonce, PKCE
verifier, where to land) travel in a signed, short-lived cookie bound to the browser that
started the flow, so any server process can finish it and a forged callback finds no match;
and the issuer a provider's discovery document names must be the configured one (no mix-up).

Nothing here touches the database: ``services.sso`` turns the verified claims into a user.
"""

from __future__ import annotations

import functools
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from mdreader.settings import OidcProviderSettings

if TYPE_CHECKING:
    from authlib.integrations.starlette_client import StarletteOAuth2App

PENDING_TTL = 600  # seconds a person has to sign in at the provider
PENDING_TYP = "oidc-pending"
COOKIE = "mdreader_sso"


class SsoError(Exception):
    """A sign-in that cannot go on; ``message`` is the sentence the person is shown."""

    def __init__(self, message: str, code: str = "sso_failed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Pending:
    provider: str
    state: str
    nonce: str
    verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified ID token (and the userinfo endpoint) says about the person."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    id_token: str


def seal(key: str, pending: Pending) -> str:
    """The cookie value of a pending sign-in: signed with the instance's key, expiring."""
    now = int(time.time())
    return jwt.encode(
        {
            "typ": PENDING_TYP,
            "iat": now,
            "exp": now + PENDING_TTL,
            "p": pending.provider,
            "s": pending.state,
            "n": pending.nonce,
            "v": pending.verifier,
            "next": pending.next,
        },
        key,
        algorithm="HS256",
    )


def unseal(key: str, value: str | None) -> Pending | None:
    if not value:
        return None
    try:
        data = jwt.decode(value, key, algorithms=["HS256"], options={"require": ["exp"]})
        if data.get("typ") != PENDING_TYP:
            return None
        return Pending(data["p"], data["s"], data["n"], data["v"], data["next"])
    except (jwt.PyJWTError, KeyError, TypeError):
        return None


def safe_next(value: str | None) -> str:
    """Where to land after signing in: a path of this site only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value[:2000]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return value is True


@functools.cache
def _authlib() -> Any:  # authlib has no type information
    """authlib's Starlette client, imported once a provider is configured: without single
    sign-on (the Lambda handler, most servers) authlib and httpx are never loaded."""
    from authlib.deprecate import AuthlibDeprecationWarning  # its import sets a filter of its own

    with warnings.catch_warnings():
        # authlib 1.9 warns that it will move from httpx to its successor httpx2 when that is
        # installed; httpx (which the app already has) is what it uses here, and its errors
        # are the ones caught below.
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations import starlette_client
    return starlette_client


class OidcProviders:
    """The configured providers, each an authlib client; built once in the app's lifespan."""

    def __init__(self, providers: list[OidcProviderSettings], timeout: float = 10.0) -> None:
        self.settings = {p.name: p for p in providers}
        self._oauth = _authlib().OAuth()
        self._apps: dict[str, StarletteOAuth2App] = {}
        for p in providers:
            self._apps[p.name] = self._oauth.register(
                name=p.name,
                client_id=p.client_id,
                client_secret=p.client_secret or None,
                server_metadata_url=p.issuer.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": " ".join(p.scopes),
                    "code_challenge_method": "S256",
                    "timeout": timeout,
                },
            )

    def __contains__(self, name: str) -> bool:
        return name in self._apps

    async def _metadata(self, name: str) -> dict[str, Any]:
        import httpx

        app = self._apps[name]
        try:
            metadata: dict[str, Any] = await app.load_server_metadata()
        except (httpx.HTTPError, ValueError) as exc:
            app.server_metadata = {}  # ask again next time
            raise SsoError(
                f"The sign-in service {self.settings[name].display_name} cannot be reached "
                "right now. Please try again later.",
                "sso_unavailable",
            ) from exc
        expected = self.settings[name].issuer.rstrip("/")
        if str(metadata.get("issuer", "")).rstrip("/") != expected:
            app.server_metadata = {}
            raise SsoError(
                f"The sign-in service {self.settings[name].display_name} names another "
                "issuer than the one configured; ask your administrator.",
                "sso_misconfigured",
            )
        return metadata

    async def begin(self, name: str, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """The provider's authorization URL, and what the callback must find again."""
        await self._metadata(name)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        found = await self._apps[name].create_authorization_url(
            redirect_uri, state=state, nonce=nonce
        )
        pending = Pending(name, found["state"], nonce, found["code_verifier"], next_path)
        return found["url"], pending

    async def finish(self, pending: Pending, params: dict[str, str], redirect_uri: str) -> Claims:
        """Check the callback against the pending sign-in, trade the code, verify the ID
        token. Raises ``SsoError`` with a sentence for the person."""
        import httpx

        oauth_error = _authlib().OAuthError
        name = pending.provider
        if params.get("error"):
            raise SsoError(
                params.get("error_description") or "Signing in was cancelled at the provider.",
                "sso_denied",
            )
        state, code = params.get("state"), params.get("code")
        if not state or not secrets.compare_digest(state, pending.state) or not code:
            raise SsoError("This sign-in did not start here. Please sign in again.", "sso_state")
        metadata = await self._metadata(name)
        # RFC 9207: a provider that names itself in the answer must name the right issuer.
        if "iss" in params and params["iss"].rstrip("/") != str(metadata["issuer"]).rstrip("/"):
            raise SsoError("This sign-in came back from another provider.", "sso_state")
        app = self._apps[name]
        try:
            token = await app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=pending.verifier
            )
            if "id_token" not in token:
                raise SsoError("The provider sent no ID token; is `openid` among the scopes?")
            claims = await app.parse_id_token(token, nonce=pending.nonce)
            email, verified = claims.get("email"), claims.get("email_verified")
            name_claim = claims.get("name")
            if (not email or verified is None) and metadata.get("userinfo_endpoint"):
                info = await app.userinfo(token=token)
                if info.get("sub") == claims["sub"]:
                    email = email or info.get("email")
                    if verified is None:
                        verified = info.get("email_verified")
                    name_claim = name_claim or info.get("name")
        except SsoError:
            raise
        except oauth_error as exc:
            raise SsoError(
                "The provider did not accept this sign-in (" + (exc.error or "error") + "). "
                "Please sign in again.",
                "sso_rejected",
            ) from exc
        except httpx.HTTPError as exc:
            raise SsoError(
                "The sign-in service cannot be reached right now. Please try again later.",
                "sso_unavailable",
            ) from exc
        except Exception as exc:  # joserfc / authlib claim errors: a token we must not trust
            raise SsoError(
                "The provider's answer could not be verified. Please sign in again.",
                "sso_invalid_token",
            ) from exc
        return Claims(
            provider=name,
            subject=str(claims["sub"]),
            email=str(email) if email else None,
            email_verified=_truthy(verified),
            name=str(name_claim) if name_claim else None,
            id_token=str(token["id_token"]),
        )

    async def logout_url(self, name: str, after: str, id_token: str | None = None) -> str | None:
        """RP-initiated logout at the provider, when it offers one."""
        try:
            metadata = await self._metadata(name)
        except SsoError:
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        found = await self._apps[name].create_logout_url(
            post_logout_redirect_uri=after,
            id_token_hint=id_token,
            client_id=self.settings[name].client_id,
        )
        return str(found["url"])
