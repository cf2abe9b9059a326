"""Local users for outside identities (Cognito): found by subject, then by e-mail, or made."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mdreader.backends.identity import Identity
from mdreader.context import Services
from mdreader.db.models import User
from mdreader.services.auth import normalize_email


async def user_for_identity(services: Services, identity: Identity, token: str) -> uuid.UUID | None:
    """The local user id for a verified outside identity, creating the user on first sight.

    An existing local account is linked by e-mail only when the provider says the address is
    verified (else anyone could claim someone's account by signing up with their address),
    and never when it is linked to another subject already.
    """
    for _attempt in range(2):
        try:
            return await _find_or_create(services, identity, token)
        except IntegrityError:  # a concurrent first request created or linked it: look again
            continue
    return None


async def _find_or_create(services: Services, identity: Identity, token: str) -> uuid.UUID | None:
    async with services.db.session() as session:
        user = await session.scalar(select(User).where(User.external_id == identity.subject))
        if user is not None:
            return user.id
        email, verified = identity.email, identity.email_verified
        if not email:
            found = await services.identity.email_of(token)
            if found is None:
                return None
            email, verified = found
        address = normalize_email(email)
        user = await session.scalar(select(User).where(User.email == address))
        if user is not None:
            if not verified or user.external_id is not None:
                return None
            user.external_id = identity.subject
            user.email_verified = True
            return user.id
        user = User(
            email=address,
            name=(identity.name or address.split("@")[0])[:200],
            password_hash=None,
            email_verified=verified,
            external_id=identity.subject,
        )
        session.add(user)
        await session.flush()
        return user.id
