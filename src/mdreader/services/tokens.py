"""Personal access tokens: made in account settings for scripts and tools.

A token is ``mdr_pat_`` and 43 random characters, shown once when it is made; only its
SHA-256 hash is kept. It names its user, a scope (``read`` or ``write``), optionally one
workspace, and an expiry. Wherever an access token is accepted (REST, both WebSocket
endpoints) a personal token is too, and the policy decides as for its user, narrowed by the
token: a read token only reads, a workspace token sees nothing of other workspaces (404).
Revoking it ends it at once (its cache entry goes; open WebSockets are dropped at the next
re-check).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.auth.tokens import hash_token, new_opaque_token
from mdreader.context import Backends
from mdreader.db.models import Membership, PersonalToken
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.policy import Scope

PREFIX = "mdr_pat_"
MAX_PER_USER = 100
LAST_USED_EVERY = timedelta(minutes=5)  # last_used_at is written at most this often


@dataclass(frozen=True, slots=True)
class Grant:
    """What a personal access token narrows its user's access to."""

    token_id: uuid.UUID
    user_id: uuid.UUID
    scope: Scope
    workspace_id: uuid.UUID | None
    expires_at: datetime | None

    def dump(self) -> bytes:
        return json.dumps(
            [
                str(self.token_id),
                str(self.user_id),
                self.scope.value,
                str(self.workspace_id) if self.workspace_id else None,
                self.expires_at.isoformat() if self.expires_at else None,
            ]
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> Grant:
        tid, uid, scope, wid, exp = json.loads(raw)
        return cls(
            uuid.UUID(tid),
            uuid.UUID(uid),
            Scope(scope),
            uuid.UUID(wid) if wid else None,
            datetime.fromisoformat(exp) if exp else None,
        )


def is_personal(token: str) -> bool:
    return token.startswith(PREFIX)


def _key(token_hash: str) -> str:
    return f"pat:{token_hash}"


async def create(
    services: Backends,
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    name: str,
    scope: Scope,
    workspace_id: uuid.UUID | None,
    expires_at: datetime | None,
) -> tuple[PersonalToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller)."""
    if expires_at is not None and expires_at <= utcnow():
        raise AppError(422, "The expiry must be in the future.", "invalid_expiry")
    if workspace_id is not None:
        member = await session.scalar(
            select(Membership.role).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        )
        if member is None:
            raise AppError(404, "Workspace not found.", "not_found")
    count = len(
        (
            await session.scalars(
                select(PersonalToken.id).where(
                    PersonalToken.user_id == user_id, PersonalToken.revoked_at.is_(None)
                )
            )
        ).all()
    )
    if count >= MAX_PER_USER:
        raise AppError(
            409, f"You have {MAX_PER_USER} tokens already; revoke some first.", "too_many_tokens"
        )
    secret = PREFIX + new_opaque_token()
    row = PersonalToken(
        user_id=user_id,
        workspace_id=workspace_id,
        name=name.strip()[:100] or "Token",
        scope=scope.value,
        token_hash=hash_token(secret),
        hint=secret[-4:],
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def listed(session: AsyncSession, user_id: uuid.UUID) -> list[PersonalToken]:
    """The user's tokens that still work, newest first."""
    now = utcnow()
    rows = await session.scalars(
        select(PersonalToken)
        .where(PersonalToken.user_id == user_id, PersonalToken.revoked_at.is_(None))
        .order_by(PersonalToken.created_at.desc())
    )
    return [r for r in rows if r.expires_at is None or r.expires_at > now]


async def revoke(
    services: Backends, session: AsyncSession, user_id: uuid.UUID, token_id: uuid.UUID
) -> PersonalToken:
    row = await session.get(PersonalToken, token_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise AppError(404, "Token not found.", "not_found")
    row.revoked_at = utcnow()
    await services.cache.delete(_key(row.token_hash))
    return row


async def resolve(services: Backends, token: str) -> Grant | None:
    """The grant of a working personal token, or None. Cached for a few seconds like a
    session; revoking deletes the entry."""
    token_hash = hash_token(token)
    key = _key(token_hash)
    raw = await services.cache.get(key)
    now = utcnow()
    if raw is not None:
        grant = Grant.load(raw)
    else:
        async with services.db.primary_read_session() as session:
            row = await session.scalar(
                select(PersonalToken).where(PersonalToken.token_hash == token_hash)
            )
        if row is None or row.revoked_at is not None:
            return None
        grant = Grant(row.id, row.user_id, Scope(row.scope), row.workspace_id, row.expires_at)
        await services.cache.set(key, grant.dump(), services.settings.session_cache_ttl)
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            async with services.db.session() as w:
                fresh = await w.get(PersonalToken, row.id)
                if fresh is not None:
                    fresh.last_used_at = now
    if grant.expires_at is not None and grant.expires_at <= now:
        return None
    return grant


async def live_ids(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these token ids still work (the WebSocket's re-check)."""
    if not ids:
        return set()
    now = utcnow()
    rows = await session.execute(
        select(PersonalToken.id, PersonalToken.expires_at).where(
            PersonalToken.id.in_(ids), PersonalToken.revoked_at.is_(None)
        )
    )
    return {tid for tid, exp in rows if exp is None or exp > now}
