"""The signed-in user's own account: name, e-mail verification, two-factor sign-in, and
their sessions. Commands the /api/auth routes call; each works in the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Services
from mdreader.db.models import AuthSession, User
from mdreader.errors import AppError
from mdreader.services import auth
from mdreader.services.workspaces import accept_pending_invitations


async def own_account(session: AsyncSession, user_id: uuid.UUID) -> User:
    """The caller's user row, loaded in this request's write transaction."""
    user = await session.get(User, user_id)
    if user is None:  # deleted while the token was still cached
        raise AppError(401, "This account no longer exists.", "invalid_token")
    return user


async def rename(services: Services, session: AsyncSession, user_id: uuid.UUID, name: str) -> User:
    user = await own_account(session, user_id)
    user.name = name.strip()
    await auth.forget_user(services, session, user.id)
    await session.flush()
    return user


async def verify_email(services: Services, session: AsyncSession, token: str) -> User:
    """Spend an e-mail verification link: the address is confirmed, and the invitations
    waiting for it are accepted."""
    user = await auth.consume_user_token(session, token, auth.VERIFY)
    user.email_verified = True
    await accept_pending_invitations(session, user)
    await auth.forget_user(services, session, user.id)
    await session.flush()
    return user


async def resend_verification(
    services: Services, session: AsyncSession, user_id: uuid.UUID
) -> None:
    user = await own_account(session, user_id)
    if user.email_verified:
        raise AppError(409, "This e-mail address is already verified.", "already_verified")
    verdict = await services.limiter.hit(f"verify:{user.id}", 5, 3600)
    if not verdict.allowed:
        raise AppError(
            429,
            "Too many e-mails asked for; try again later.",
            "rate_limited",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    await auth.send_verification(services, session, user)


async def revoke_session(
    services: Services, session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    """Sign one of the user's own sessions out (404 for anyone else's)."""
    row = await session.get(AuthSession, session_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise AppError(404, "Session not found.", "not_found")
    await auth.revoke_sessions(services, session, [session_id])


async def start_totp(session: AsyncSession, user_id: uuid.UUID) -> tuple[str, str]:
    """A new authenticator secret, pending until confirmed: (secret, otpauth URI)."""
    user = await own_account(session, user_id)
    if user.mfa_secret:
        raise AppError(409, "Two-factor sign-in is already on; turn it off first.", "mfa_enabled")
    secret = auth.new_totp_secret()
    user.mfa_pending_secret = secret
    return secret, auth.totp_uri(secret, user.email)


async def confirm_totp(
    services: Services, session: AsyncSession, user_id: uuid.UUID, code: str
) -> User:
    """Turn two-factor sign-in on with a code of the pending secret."""
    user = await own_account(session, user_id)
    if not user.mfa_pending_secret:
        raise AppError(409, "Start the set-up of two-factor sign-in first.", "mfa_not_enrolling")
    step = auth.verify_totp(user, code, secret=user.mfa_pending_secret)
    if step is None:
        raise AppError(400, "The authenticator code is wrong.", "invalid_code")
    user.mfa_secret, user.mfa_pending_secret, user.mfa_last_step = (
        user.mfa_pending_secret,
        None,
        step,
    )
    await auth.forget_user(services, session, user.id)
    await session.flush()
    return user


async def disable_totp(
    services: Services, session: AsyncSession, user_id: uuid.UUID, code: str
) -> User:
    """Turn two-factor sign-in off with a current code."""
    user = await own_account(session, user_id)
    if not user.mfa_secret:
        raise AppError(409, "Two-factor sign-in is not on.", "mfa_disabled")
    step = auth.verify_totp(user, code)
    if step is None:
        raise AppError(400, "The authenticator code is wrong.", "invalid_code")
    user.mfa_secret, user.mfa_pending_secret, user.mfa_last_step = None, None, step
    await auth.forget_user(services, session, user.id)
    return user
