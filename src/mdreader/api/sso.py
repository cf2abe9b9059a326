"""/api/auth/oidc: single sign-on with the OpenID Connect providers of MDREADER_OIDC_PROVIDERS.

The browser leaves for the provider at ``GET .../{provider}/login`` and comes back to
``GET .../{provider}/callback``, which signs the person in and sends the browser to the web
app's ``/auth/sso#code=...``; the web app trades that one-time code for its tokens at
``POST /api/auth/oidc/exchange``. Every failure of the flow lands on the sign-in page with a
sentence (``/signin?sso_error=...``), since a person, not a script, follows these redirects.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from mdreader.api.audit import origin
from mdreader.api.deps import ClientIP, ServicesDep, public
from mdreader.api.openapi import errors
from mdreader.auth import oidc
from mdreader.auth.oidc import OidcProviders, SsoError
from mdreader.context import Services
from mdreader.errors import AppError
from mdreader.schemas import LoginCodeIn, TokenPair
from mdreader.services import audit, sso

router = APIRouter(prefix="/api/auth/oidc", tags=["auth"])
Public = [Depends(public)]
log = logging.getLogger("mdreader.sso")


def _providers(services: Services, name: str) -> OidcProviders:
    if services.oidc is None or name not in services.oidc:
        raise AppError(404, "There is no such sign-in provider here.", "not_found")
    return services.oidc


def callback_url(services: Services, name: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/api/auth/oidc/{name}/callback"


def _to_signin(services: Services, message: str) -> RedirectResponse:
    base = services.settings.public_url.rstrip("/")
    response = RedirectResponse(f"{base}/signin?{urlencode({'sso_error': message})}", 302)
    response.delete_cookie(oidc.COOKIE, path="/api/auth/oidc")
    return response


@router.get("/{provider}/login", dependencies=Public, status_code=302, responses=errors(404))
async def sso_login(
    provider: str, services: ServicesDep, next: str | None = None
) -> RedirectResponse:
    """Start signing in at the provider (authorization code with PKCE, state and nonce)."""
    providers = _providers(services, provider)
    try:
        url, pending = await providers.begin(
            provider, callback_url(services, provider), oidc.safe_next(next)
        )
    except SsoError as exc:
        log.warning("sso %s: %s", provider, exc.message)
        return _to_signin(services, exc.message)
    response = RedirectResponse(url, 302)
    response.set_cookie(
        oidc.COOKIE,
        oidc.seal(services.secret_key, pending),
        max_age=oidc.PENDING_TTL,
        path="/api/auth/oidc",
        httponly=True,
        secure=services.settings.public_url.startswith("https://"),
        samesite="lax",  # sent on the provider's top-level redirect back, not on others
    )
    return response


@router.get("/{provider}/callback", dependencies=Public, status_code=302, responses=errors(404))
async def sso_callback(
    provider: str, request: Request, services: ServicesDep, ip: ClientIP
) -> RedirectResponse:
    """Back from the provider: check state, trade the code, verify the ID token, sign in."""
    providers = _providers(services, provider)
    pending = oidc.unseal(services.secret_key, request.cookies.get(oidc.COOKIE))
    params = dict(request.query_params)
    try:
        if pending is None or pending.provider != provider:
            raise SsoError(
                "This sign-in did not start in this browser, or took too long. "
                "Please sign in again.",
                "sso_state",
            )
        claims = await providers.finish(pending, params, callback_url(services, provider))
        pair, user = await sso.sign_in(services, claims, ip, request.headers.get("user-agent", ""))
    except SsoError as exc:
        log.warning("sso %s: %s (%s)", provider, exc.message, exc.code)
        await audit.record(
            services,
            origin(request, services),
            "auth.sign_in_failed",
            detail={"method": "sso", "provider": provider, "reason": exc.code},
        )
        return _to_signin(services, exc.message)
    await audit.record(
        services,
        origin(request, services, user),
        "auth.sign_in",
        subject_user_id=user.id,
        detail={"method": "sso", "provider": provider},
    )
    code = await sso.hand_over(services, pair)
    base = services.settings.public_url.rstrip("/")
    fragment = urlencode({"code": code, "next": pending.next, "provider": provider})
    response = RedirectResponse(f"{base}/auth/sso#{fragment}", 302)
    response.delete_cookie(oidc.COOKIE, path="/api/auth/oidc")
    return response


@router.post("/exchange", dependencies=Public, responses=errors(400))
async def sso_exchange(body: LoginCodeIn, services: ServicesDep) -> TokenPair:
    """The tokens of a finished single sign-on, for its one-time code (once, within 60 s)."""
    return await sso.redeem(services, body.code)


@router.get("/{provider}/logout", dependencies=Public, status_code=302, responses=errors(404))
async def sso_logout(provider: str, services: ServicesDep) -> RedirectResponse:
    """After the web app ended its session: sign out at the provider too, then back to
    the sign-in page (the provider's RP-initiated logout, when it has one)."""
    providers = _providers(services, provider)
    after = f"{services.settings.public_url.rstrip('/')}/signin"
    url = await providers.logout_url(provider, after)
    return RedirectResponse(url or after, 302)
