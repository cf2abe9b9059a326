"""Token → principal → caller: who is behind an access token.

The same function (``resolve_token``) authenticates REST routes (``mdreader.api.deps``), the
fast paths (``mdreader.fast``) and the collaboration WebSocket (``mdreader.collab.auth``).
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from mdreader.backends.identity import Identity
from mdreader.context import Backends
from mdreader.db.models import AuthSession, User
from mdreader.db.types import utcnow
from mdreader.policy import Scope
from mdreader.services import tokens as personal_tokens
from mdreader.services.identity import user_for_identity
from mdreader.services.tokens import Grant


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the few user fields requests need, cheap to cache."""

    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            user.id,
            user.email,
            user.name,
            user.email_verified,
            bool(user.mfa_secret),
            user.created_at,
        )

    def dump(self) -> bytes:
        return json.dumps(
            [
                str(self.id),
                self.email,
                self.name,
                self.email_verified,
                self.mfa_enabled,
                self.created_at.isoformat(),
            ]
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> Principal:
        return _load_principal(raw)


@functools.lru_cache(maxsize=4096)
def _load_principal(raw: bytes) -> Principal:
    # Immutable, and the cached bytes of a user stay the same until the user changes.
    uid, email, name, verified, mfa, created = json.loads(raw)
    return Principal(uuid.UUID(uid), email, name, verified, mfa, datetime.fromisoformat(created))


@dataclass(frozen=True, slots=True)
class Caller:
    user: Principal
    session_id: uuid.UUID  # a personal access token's id stands in for it
    grant: Grant | None = None  # set when the caller came with a personal access token

    @property
    def scope(self) -> Scope | None:
        return self.grant.scope if self.grant else None

    def bound_out(self, workspace_id: uuid.UUID | None) -> bool:
        """True when a workspace-bound token calls about another workspace."""
        return (
            self.grant is not None
            and self.grant.workspace_id is not None
            and self.grant.workspace_id != workspace_id
        )


def parse_bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def resolve_token(services: Backends, token: str) -> Caller | None:
    """The caller behind an access token, or None (bad, expired, or its session revoked).

    The session's validity and the user's fields are cached for a few seconds; revoking a
    session or changing the user deletes those entries (``services.auth.forget``). Tokens of
    an outside identity provider (Cognito) name no local session: their user is found by the
    provider's subject, then by e-mail, and created on first sight.
    """
    if personal_tokens.is_personal(token):
        grant = await personal_tokens.resolve(services, token)
        if grant is None:
            return None
        principal = await load_principal(services, grant.user_id)
        return Caller(principal, grant.token_id, grant) if principal is not None else None
    identity = await services.identity.verify(token)
    if identity is None:
        return None
    if identity.session_id is None:
        return await resolve_external(services, identity, token)
    user_id, session_key, user_key = _session_keys(identity.subject, identity.session_id)
    session_id = identity.session_id
    cache, ttl = services.cache, services.settings.session_cache_ttl
    if await cache.get(session_key) is None:
        async with services.db.primary_read_session() as session:
            row = await session.get(AuthSession, session_id)
        now = utcnow()
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or row.user_id != user_id
        ):
            return None
        await cache.set(session_key, b"1", ttl)
        if now - row.last_seen_at > timedelta(minutes=5):
            async with services.db.session() as w:
                fresh = await w.get(AuthSession, session_id)
                if fresh is not None:
                    fresh.last_seen_at = now
    principal = await load_principal(services, user_id, user_key)
    return Caller(principal, session_id) if principal is not None else None


@functools.lru_cache(maxsize=4096)
def _session_keys(subject: str, session_id: uuid.UUID) -> tuple[uuid.UUID, str, str]:
    """The user id and the cache keys of a token's session and user, made once per session."""
    return uuid.UUID(subject), f"sess:{session_id}", f"user:{subject}"


async def load_principal(
    services: Backends, user_id: uuid.UUID, user_key: str | None = None
) -> Principal | None:
    cache, user_key = services.cache, user_key or f"user:{user_id}"
    raw = await cache.get(user_key)
    if raw is not None:
        return Principal.load(raw)
    async with services.db.primary_read_session() as session:
        user = await session.get(User, user_id)
    if user is None:
        return None
    principal = Principal.of(user)
    await cache.set(user_key, principal.dump(), services.settings.session_cache_ttl)
    return principal


async def resolve_external(services: Backends, identity: Identity, token: str) -> Caller | None:
    # The subject → user link never changes once made, so it may stay cached for long.
    link_key = f"ext:{identity.provider}:{identity.subject}"
    raw = await services.cache.get(link_key)
    user_id = uuid.UUID(raw.decode()) if raw else await user_for_identity(services, identity, token)
    if user_id is None:
        return None
    if raw is None:
        await services.cache.set(link_key, str(user_id).encode(), 3600)
    principal = await load_principal(services, user_id)
    if principal is None:
        await services.cache.delete(link_key)
        return None
    # No local session: a stable stand-in id, which never matches a stored session.
    return Caller(principal, uuid.uuid5(EXTERNAL_SESSIONS, link_key))


EXTERNAL_SESSIONS = uuid.UUID("5b0f6a4e-4f53-4c0c-9a52-8f2b1d0c7e11")
