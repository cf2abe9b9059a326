"""Single sign-on: a verified OpenID Connect identity becomes a signed-in MDReader user.

Who is who: a (provider, subject) pair once linked names the same user for good. A first
sign-in is linked to an existing account only through an e-mail address the provider says is
verified (else anyone could take over an account by registering its address at some provider),
and only when that account has no other identity at the same provider; with no account of that
address one is made when the provider allows it (``create_users``). The provider's
``allowed_domains`` are checked on every sign-in.

The browser gets its tokens through a one-time login code (``hand_over`` / ``redeem``): the
callback page's URL never carries a token.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.auth.oidc import Claims, SsoError
from mdreader.auth.tokens import hash_token, new_opaque_token
from mdreader.context import Services
from mdreader.db.models import User, UserIdentity
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.schemas import TokenPair
from mdreader.services.auth import forget_user, normalize_email, start_session
from mdreader.services.workspaces import accept_pending_invitations

LOGIN_CODE_TTL = 60


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed in (for the audit log)."""

    id: uuid.UUID
    email: str  # seconds the web app has to trade the code for its tokens


def _domain_allowed(email: str, allowed: list[str]) -> bool:
    if not allowed:
        return True
    domain = email.rsplit("@", 1)[-1].lower()
    return domain in {d.lower().lstrip("@") for d in allowed}


async def user_for(services: Services, session: AsyncSession, claims: Claims) -> User:
    """The user the identity names, linked or made now; SsoError when it may not sign in."""
    assert services.oidc is not None
    provider = services.oidc.settings[claims.provider]
    label = provider.display_name
    if not claims.email:
        raise SsoError(
            f"{label} did not tell us your e-mail address; is the `email` scope granted?",
            "sso_no_email",
        )
    email = normalize_email(claims.email)
    if not _domain_allowed(email, provider.allowed_domains):
        raise SsoError(
            f"Addresses at {email.rsplit('@', 1)[-1]} may not sign in with {label}.",
            "sso_domain",
        )
    link = await session.scalar(
        select(UserIdentity).where(
            UserIdentity.provider == claims.provider, UserIdentity.subject == claims.subject
        )
    )
    if link is not None:
        user = await session.get(User, link.user_id)
        assert user is not None  # the link is deleted with its user
        link.email, link.last_used_at = email, utcnow()
        return user
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None:
        if not claims.email_verified:
            raise SsoError(
                f"An account with {email} exists, but {label} has not verified that address, "
                "so it cannot be linked. Sign in with your password, or verify the address "
                f"at {label} first.",
                "sso_unverified",
            )
        taken = await session.scalar(
            select(UserIdentity.id).where(
                UserIdentity.user_id == user.id, UserIdentity.provider == claims.provider
            )
        )
        if taken is not None:
            raise SsoError(
                f"The account {email} is already linked to another {label} account.",
                "sso_linked_elsewhere",
            )
        if not user.email_verified:
            user.email_verified = True
            await accept_pending_invitations(session, user)
    else:
        if not provider.create_users:
            raise SsoError(
                f"There is no MDReader account for {email}; ask an administrator to invite you.",
                "sso_no_account",
            )
        user = User(
            email=email,
            name=(claims.name or email.split("@")[0]).strip()[:200] or email[:200],
            password_hash=None,
            email_verified=claims.email_verified,
        )
        session.add(user)
        await session.flush()
        if claims.email_verified:
            await accept_pending_invitations(session, user)
    session.add(
        UserIdentity(user_id=user.id, provider=claims.provider, subject=claims.subject, email=email)
    )
    await session.flush()
    await forget_user(services, session, user.id)
    return user


async def sign_in(
    services: Services, claims: Claims, ip: str, user_agent: str
) -> tuple[TokenPair, Principal]:
    """A new session for the identity's user (two tries: a concurrent first sign-in of the
    same person may link or create the account in between)."""
    for attempt in range(2):
        try:
            async with services.db.session() as session:
                user = await user_for(services, session, claims)
                pair = await start_session(services, session, user, ip, user_agent)
                return pair, Principal(user.id, user.email)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


async def hand_over(services: Services, pair: TokenPair) -> str:
    """A one-time code the web app trades for ``pair`` within a minute."""
    code = new_opaque_token()
    await services.cache.set(
        f"sso-code:{hash_token(code)}", pair.model_dump_json().encode(), LOGIN_CODE_TTL
    )
    return code


async def redeem(services: Services, code: str) -> TokenPair:
    key = f"sso-code:{hash_token(code)}"
    raw = await services.cache.get(key)
    if raw is None:
        raise AppError(
            400,
            "This sign-in code is unknown, used or expired. Please sign in again.",
            "invalid_code",
        )
    await services.cache.delete(key)
    return TokenPair(**json.loads(raw))
