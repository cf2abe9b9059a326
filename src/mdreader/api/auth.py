"""/api/auth: accounts, sign-in, sessions, e-mail verification, password reset and MFA."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select

from mdreader.access.identity import Principal
from mdreader.api.audit import origin
from mdreader.api.deps import ClientIP, CurrentCaller, ServicesDep, SessionDep, public
from mdreader.api.openapi import errors
from mdreader.api.presenters import user_public
from mdreader.auth import passwords
from mdreader.db.models import AuthSession, User
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.schemas import (
    AuthProvidersPublic,
    CodeIn,
    CognitoPublic,
    EmailIn,
    LoginIn,
    OidcProviderPublic,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    ResetConfirmIn,
    SessionPublic,
    TokenIn,
    TokenPair,
    TotpEnrolPublic,
    UserPublic,
    UserUpdateIn,
)
from mdreader.services import account, audit
from mdreader.services import auth as svc

router = APIRouter(prefix="/api/auth", tags=["auth"])
Public = [Depends(public)]


async def password_login(services: ServicesDep) -> None:
    """Refuses MDReader's own password routes on an instance that signs in elsewhere only."""
    if not services.settings.password_login:
        raise AppError(
            403,
            "Signing in with a password is turned off here; use single sign-on.",
            "password_login_disabled",
        )


PasswordRoute = [Depends(public), Depends(password_login)]


@router.get("/providers", dependencies=Public)
async def providers(services: ServicesDep) -> AuthProvidersPublic:
    """How the web app signs people in: MDReader's own form, or Cognito's hosted UI
    (authorization code with PKCE; MFA and the social providers are the pool's)."""
    settings = services.settings
    base = settings.public_url.rstrip("/")
    oidc = [
        OidcProviderPublic(
            name=p.name,
            label=p.display_name,
            login_url=f"{base}/api/auth/oidc/{p.name}/login",
            logout_url=f"{base}/api/auth/oidc/{p.name}/logout",
        )
        for p in settings.oidc_providers
    ]
    password = settings.password_login
    rule = passwords.describe_policy(settings)
    if settings.auth_provider != "cognito" or not settings.cognito_domain:
        return AuthProvidersPublic(
            provider="local", password=password, oidc=oidc, password_rule=rule
        )
    return AuthProvidersPublic(
        provider="cognito",
        password=password,
        oidc=oidc,
        password_rule=rule,
        cognito=CognitoPublic(
            domain=settings.cognito_domain.rstrip("/"),
            client_id=settings.cognito_client_id or "",
            identity_providers=settings.cognito_identity_providers,
            # aws.cognito.signin.user.admin: the API may ask the pool for the e-mail once.
            scopes=["openid", "email", "profile", "aws.cognito.signin.user.admin"],
        ),
    )


@router.post("/register", status_code=201, dependencies=PasswordRoute, responses=errors(409))
async def register(body: RegisterIn, services: ServicesDep, session: SessionDep) -> UserPublic:
    user = await svc.register(services, session, body.email, body.password, body.name)
    return user_public(user)


@router.post("/login", dependencies=PasswordRoute, responses=errors(401))
async def login(body: LoginIn, request: Request, services: ServicesDep, ip: ClientIP) -> TokenPair:
    email = svc.normalize_email(body.email)
    try:
        async with services.db.session() as session:
            pair = await svc.login(
                services,
                session,
                body.email,
                body.password,
                body.totp_code,
                ip,
                request.headers.get("user-agent", ""),
            )
            user = await session.scalar(select(User).where(User.email == email))
            if user is not None:
                audit.add(
                    session,
                    origin(request, services, Principal.of(user)),
                    "auth.sign_in",
                    subject_user_id=user.id,
                    detail={"method": "password", "mfa": bool(user.mfa_secret)},
                )
            return pair
    except AppError as exc:
        # Once the sign-in's transaction has rolled back, in one of its own.
        async with services.db.read_session() as read:
            known = await read.scalar(select(User.id).where(User.email == email))
        await audit.record(
            services,
            origin(request, services, email=email),
            "auth.sign_in_failed",
            subject_user_id=known,
            detail={"method": "password", "reason": exc.code},
        )
        raise


@router.post("/refresh", dependencies=Public, responses=errors(401))
async def refresh(body: RefreshIn, services: ServicesDep) -> TokenPair:
    try:
        async with services.db.session() as session:
            return await svc.refresh(services, session, body.refresh_token)
    except svc.RefreshReused:
        await svc.revoke_for_reuse(services, body.refresh_token)
        raise


@router.post("/logout", status_code=204, dependencies=Public)
async def logout(body: RefreshIn, services: ServicesDep, session: SessionDep) -> Response:
    await svc.logout(services, session, body.refresh_token)
    return Response(status_code=204)


@router.get("/me")
async def me(caller: CurrentCaller) -> UserPublic:
    return user_public(caller.user)


@router.patch("/me")
async def update_me(
    body: UserUpdateIn, caller: CurrentCaller, services: ServicesDep, session: SessionDep
) -> UserPublic:
    return user_public(await account.rename(services, session, caller.user.id, body.name))


@router.post("/verify-email", dependencies=Public, responses=errors(400))
async def verify_email(body: TokenIn, services: ServicesDep, session: SessionDep) -> UserPublic:
    return user_public(await account.verify_email(services, session, body.token))


@router.post("/verify-email/resend", status_code=202, responses=errors(409))
async def resend_verification(
    caller: CurrentCaller, services: ServicesDep, session: SessionDep
) -> dict[str, str]:
    await account.resend_verification(services, session, caller.user.id)
    return {"detail": "A new verification e-mail is on its way."}


@router.post("/password-reset", status_code=202, dependencies=PasswordRoute)
async def password_reset(
    body: EmailIn, request: Request, services: ServicesDep, session: SessionDep
) -> dict[str, str]:
    await svc.request_password_reset(services, session, body.email)
    email = svc.normalize_email(body.email)
    known = await session.scalar(select(User.id).where(User.email == email))
    audit.add(
        session,
        origin(request, services, email=email),
        "password.reset_requested",
        subject_user_id=known,
    )
    return {"detail": "If an account uses this address, a reset link is on its way."}


@router.post(
    "/password-reset/confirm", status_code=204, dependencies=PasswordRoute, responses=errors(400)
)
async def password_reset_confirm(
    body: ResetConfirmIn,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    ip: ClientIP,
) -> Response:
    user = await svc.confirm_password_reset(services, session, body.token, body.password, ip)
    audit.add(
        session,
        origin(request, services, Principal.of(user)),
        "password.reset",
        subject_user_id=user.id,
    )
    return Response(status_code=204)


@router.post("/password-change", status_code=204, responses=errors(400))
async def password_change(
    body: PasswordChangeIn,
    caller: CurrentCaller,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    audit.add(
        session,
        origin(request, services, caller),
        "password.changed",
        subject_user_id=caller.user.id,
    )
    await svc.change_password(
        services,
        session,
        caller.user.id,
        body.current_password,
        body.new_password,
        caller.session_id,
    )
    return Response(status_code=204)


@router.get("/sessions")
async def list_sessions(caller: CurrentCaller, services: ServicesDep) -> list[SessionPublic]:
    async with services.db.read_session() as session:
        rows = await session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == caller.user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > utcnow(),
            )
            .order_by(AuthSession.last_seen_at.desc())
        )
        return [
            SessionPublic(
                id=s.id,
                device=s.user_agent or "Unknown device",
                ip=s.ip,
                created_at=s.created_at,
                last_seen_at=s.last_seen_at,
                current=s.id == caller.session_id,
            )
            for s in rows
        ]


@router.delete("/sessions/{session_id}", status_code=204, responses=errors(404))
async def revoke_session(
    session_id: uuid.UUID, caller: CurrentCaller, services: ServicesDep, session: SessionDep
) -> Response:
    await account.revoke_session(services, session, caller.user.id, session_id)
    return Response(status_code=204)


@router.post("/mfa/totp", responses=errors(409))
async def totp_enrol(caller: CurrentCaller, session: SessionDep) -> TotpEnrolPublic:
    secret, uri = await account.start_totp(session, caller.user.id)
    return TotpEnrolPublic(secret=secret, otpauth_uri=uri)


@router.post("/mfa/totp/confirm", responses=errors(400, 409))
async def totp_confirm(
    body: CodeIn,
    caller: CurrentCaller,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
) -> UserPublic:
    user = await account.confirm_totp(services, session, caller.user.id, body.code)
    audit.add(session, origin(request, services, caller), "mfa.enabled", subject_user_id=user.id)
    return user_public(user)


@router.delete("/mfa/totp", status_code=204, responses=errors(400, 409))
async def totp_disable(
    caller: CurrentCaller,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    body: Annotated[CodeIn, Body()],
) -> Response:
    user = await account.disable_totp(services, session, caller.user.id, body.code)
    audit.add(session, origin(request, services, caller), "mfa.disabled", subject_user_id=user.id)
    return Response(status_code=204)
