"""Accounts and sign-in: sessions, token rotation, e-mailed tokens, TOTP and throttling."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.auth.passwords import check_policy, dummy_verify, hash_password, verify_password
from mdreader.auth.tokens import hash_token, issue_access_token, new_opaque_token
from mdreader.context import Services
from mdreader.db.engine import after_commit
from mdreader.db.models import AuthSession, RefreshToken, User, UserToken
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.schemas import TokenPair
from mdreader.services.mail import send_after_commit
from mdreader.settings import Settings

VERIFY = "verify_email"
RESET = "password_reset"
TOTP_ISSUER = "MDReader"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def invalid_credentials() -> AppError:
    return AppError(401, "The e-mail address or password is wrong.", "invalid_credentials")


async def register(
    services: Services, session: AsyncSession, email: str, password: str, name: str
) -> User:
    """Sign-up: a new account, and the e-mail that verifies its address."""
    user = await create_account(session, services.settings, email, password, name)
    await send_verification(services, session, user)
    return user


async def create_account(
    session: AsyncSession,
    settings: Settings,
    email: str,
    password: str,
    name: str | None = None,
    *,
    verified: bool = False,
    admin: bool = False,
) -> User:
    """A new account under the password policy (``register``, and ``mdreader users create``
    for verified ones); ``name`` defaults to the part of the address before the @."""
    email = normalize_email(email)
    check_policy(password, settings)
    if await session.scalar(select(User.id).where(User.email == email)):
        raise AppError(409, "An account with this e-mail address already exists.", "email_taken")
    user = User(
        email=email,
        name=email.split("@")[0] if name is None else name,
        password_hash=hash_password(password),
        email_verified=verified,
        is_admin=admin,
    )
    session.add(user)
    await session.flush()
    return user


async def create_user_token(session: AsyncSession, user: User, purpose: str, ttl: int) -> str:
    token = new_opaque_token()
    session.add(
        UserToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    return token


async def send_verification(services: Services, session: AsyncSession, user: User) -> None:
    ttl = services.settings.email_token_ttl
    token = await create_user_token(session, user, VERIFY, ttl)
    link = f"{services.settings.public_url.rstrip('/')}/verify-email?token={token}"
    send_after_commit(
        services,
        session,
        services.templates.render(
            "verify", user.email, name=user.name, email=user.email, link=link, hours=ttl // 3600
        ),
    )


async def consume_user_token(session: AsyncSession, token: str, purpose: str) -> User:
    """Spend a single-use token: the first use wins, a second or late one is refused."""
    row = await session.scalar(
        select(UserToken).where(
            UserToken.token_hash == hash_token(token), UserToken.purpose == purpose
        )
    )
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise AppError(400, "This link is invalid, already used or expired.", "invalid_token")
    spent = await session.execute(
        update(UserToken)
        .where(UserToken.id == row.id, UserToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise AppError(400, "This link is invalid, already used or expired.", "invalid_token")
    user = await session.get(User, row.user_id)
    assert user is not None
    return user


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def _trusted_key(email: str, ip: str) -> str:
    return f"login:trusted:{email}:{ip}"


async def reserve_attempt(services: Services, email: str, ip: str) -> tuple[str, str]:
    """Count a sign-in attempt before its password is checked (429 beyond the limits).

    Counting first makes the limits hold under concurrency: of any number of parallel
    attempts, at most the limit are let through to a password check in a window. A sign-in
    that succeeds takes its attempt back (``release_attempt``). Where the account's password
    was just reset, attempts from that address count on their own: whoever keeps the
    account locked elsewhere cannot keep its owner out.
    """
    s = services.settings
    account = f"login:acct:{email}"
    if await services.cache.get(_trusted_key(email, ip)) is not None:
        account = f"login:acct:{email}:{ip}"
    verdict = await services.limiter.hit(
        account, s.login_max_failures_per_account, s.login_failure_window
    )
    if not verdict.allowed:
        raise AppError(
            429,
            "Too many failed sign-in attempts for this account. Try again in "
            f"{_wait(verdict.retry_after)}, or reset your password (“Forgot your password?”) "
            "to sign in now.",
            "rate_limited",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    by_address = f"login:ip:{ip}"
    verdict = await services.limiter.hit(
        by_address, s.login_max_failures_per_ip, s.login_failure_window
    )
    if not verdict.allowed:
        await services.limiter.undo(account)  # this attempt checks no password
        raise AppError(
            429,
            "Too many failed sign-in attempts from your address. Try again in "
            f"{_wait(verdict.retry_after)}.",
            "rate_limited",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    return account, by_address


async def release_attempt(services: Services, keys: tuple[str, str], *, signed_in: bool) -> None:
    """The password was right: the attempt is not a failure. Signing in also clears the
    account's failures."""
    account, by_address = keys
    if signed_in:
        await services.limiter.reset(account)
    else:
        await services.limiter.undo(account)
    await services.limiter.undo(by_address)


def verify_totp(user: User, code: str, secret: str | None = None) -> int | None:
    """The time step the code matches (a step already used does not count), or None."""
    secret = secret or user.mfa_secret
    if not secret or not code.strip().isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        if totp.verify(code.strip(), for_time=at, valid_window=0):
            step = int(at // totp.interval)
            if user.mfa_last_step is not None and step <= user.mfa_last_step:
                return None
            return step
    return None


async def login(
    services: Services,
    session: AsyncSession,
    email: str,
    password: str,
    totp_code: str | None,
    ip: str,
    user_agent: str,
) -> TokenPair:
    email = normalize_email(email)
    attempt = await reserve_attempt(services, email, ip)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify(password)
        raise invalid_credentials()
    ok, new_hash = verify_password(password, user.password_hash)
    if not ok:
        raise invalid_credentials()
    if user.mfa_secret:
        if not totp_code:
            await release_attempt(services, attempt, signed_in=False)
            raise AppError(401, "Enter the code from your authenticator app.", "mfa_required")
        step = verify_totp(user, totp_code)
        if step is None:
            raise AppError(401, "The authenticator code is wrong.", "invalid_credentials")
        user.mfa_last_step = step
    if new_hash:
        user.password_hash = new_hash
    await release_attempt(services, attempt, signed_in=True)
    return await start_session(services, session, user, ip, user_agent)


async def start_session(
    services: Services, session: AsyncSession, user: User, ip: str, user_agent: str
) -> TokenPair:
    now = utcnow()
    auth_session = AuthSession(
        user_id=user.id,
        ip=ip[:64],
        user_agent=user_agent[:500],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=services.settings.refresh_token_ttl),
    )
    session.add(auth_session)
    await session.flush()
    return await _issue_pair(services, session, user.id, auth_session.id)


async def _issue_pair(
    services: Services, session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> TokenPair:
    refresh = new_opaque_token()
    session.add(
        RefreshToken(
            session_id=session_id,
            token_hash=hash_token(refresh),
            expires_at=utcnow() + timedelta(seconds=services.settings.refresh_token_ttl),
        )
    )
    ttl = services.settings.access_token_ttl
    access = issue_access_token(services.secret_key, user_id, session_id, ttl)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=ttl)


class RefreshReused(AppError):
    def __init__(self) -> None:
        super().__init__(
            401,
            "This refresh token was already used; the session has been signed out for safety.",
            "refresh_token_reused",
        )


async def refresh(services: Services, session: AsyncSession, token: str) -> TokenPair:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
    )
    dead = AppError(401, "The refresh token is invalid or expired.", "invalid_token")
    if row is None:
        raise dead
    auth_session = await session.get(AuthSession, row.session_id)
    now = utcnow()
    if auth_session is None or auth_session.revoked_at is not None:
        raise dead
    if row.used_at is not None:
        raise RefreshReused()
    if row.expires_at <= now or auth_session.expires_at <= now:
        raise dead
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise RefreshReused()
    auth_session.last_seen_at = now
    return await _issue_pair(services, session, auth_session.user_id, auth_session.id)


async def revoke_for_reuse(services: Services, token: str) -> None:
    """Reuse of a spent refresh token: whoever holds it, the whole session ends."""
    async with services.db.session() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
        )
        if row is not None:
            await revoke_sessions(services, session, [row.session_id])


async def revoke_sessions(
    services: Services, session: AsyncSession, session_ids: list[uuid.UUID]
) -> None:
    if not session_ids:
        return
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await forget(services, session, *(f"sess:{sid}" for sid in session_ids))


async def forget(services: Services, session: AsyncSession, *keys: str) -> None:
    """Drop cached entries now and again after commit, so no reader re-caches a stale value."""
    await services.cache.delete(*keys)
    after_commit(session, lambda: services.cache.delete(*keys))


async def forget_user(services: Services, session: AsyncSession, user_id: uuid.UUID) -> None:
    await forget(services, session, f"user:{user_id}")


async def revoke_user_sessions(
    services: Services, session: AsyncSession, user_id: uuid.UUID, keep: uuid.UUID | None = None
) -> None:
    ids = list(
        await session.scalars(
            select(AuthSession.id).where(
                AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
            )
        )
    )
    await revoke_sessions(services, session, [i for i in ids if i != keep])


async def logout(services: Services, session: AsyncSession, token: str) -> None:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
    )
    if row is not None:
        await revoke_sessions(services, session, [row.session_id])


async def request_password_reset(services: Services, session: AsyncSession, email: str) -> None:
    email = normalize_email(email)
    # At most a few e-mails an hour to one address, whoever asks; the answer is the same.
    verdict = await services.limiter.hit(f"reset:{email}", 5, 3600)
    if not verdict.allowed:
        return
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or user.password_hash is None:
        return
    ttl = services.settings.password_reset_ttl
    token = await create_user_token(session, user, RESET, ttl)
    link = f"{services.settings.public_url.rstrip('/')}/reset-password?token={token}"
    send_after_commit(
        services,
        session,
        services.templates.render(
            "reset", user.email, name=user.name, link=link, minutes=ttl // 60
        ),
    )


async def confirm_password_reset(
    services: Services, session: AsyncSession, token: str, password: str, ip: str
) -> User:
    check_policy(password, services.settings)
    user = await consume_user_token(session, token, RESET)
    user.password_hash = hash_password(password)
    await _spend_reset_links(session, user.id)  # other reset links die with this one
    await revoke_user_sessions(services, session, user.id)
    # The lock ends, and sign-ins from where the reset was made count apart from then on.
    window = services.settings.login_failure_window
    await services.limiter.reset(f"login:acct:{user.email}")
    await services.cache.set(_trusted_key(user.email, ip), b"1", window)
    return user


async def _spend_reset_links(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A new password ends every reset link of the account not used yet."""
    await session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user_id, UserToken.purpose == RESET, UserToken.used_at.is_(None)
        )
        .values(used_at=utcnow())
    )


async def change_password(
    services: Services,
    session: AsyncSession,
    user_id: uuid.UUID,
    current: str,
    new: str,
    keep_session: uuid.UUID,
) -> None:
    user = await session.get(User, user_id)
    assert user is not None
    ok, _ = verify_password(current, user.password_hash)
    if not ok:
        raise AppError(400, "The current password is wrong.", "invalid_password")
    check_policy(new, services.settings)
    user.password_hash = hash_password(new)
    await _spend_reset_links(session, user.id)
    await revoke_user_sessions(services, session, user.id, keep=keep_session)


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def new_totp_secret() -> str:
    return pyotp.random_base32()
