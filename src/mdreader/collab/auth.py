"""Who may open a document over the WebSocket: the same token check and the same policy
rules (``mdreader.policy``) as the REST API, checked again every few seconds while open."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from mdreader import policy
from mdreader.access.identity import resolve_token
from mdreader.access.roles import document_role, document_roles
from mdreader.collab import protocol as p
from mdreader.collab.extensions import AuthContext, Denied, Extension
from mdreader.db.models import AuthSession
from mdreader.db.types import utcnow
from mdreader.policy import Action, Role, Subject
from mdreader.services import tokens as personal_tokens

if TYPE_CHECKING:
    from mdreader.collab.server import CollabServer
    from mdreader.context import Backends

_CHUNK = 500  # ids per IN list


READ_TOKEN = "read_token"  # AuthContext.extra: opened with a read-only personal token


def access(role: Role | None) -> tuple[bool, bool]:
    """(may read, read-only) for a workspace role, from the policy table."""
    readable = policy.can(role, Action.READ, Subject.DOCUMENT)
    return readable, not policy.can(role, Action.UPDATE, Subject.DOCUMENT)


@dataclass(frozen=True, slots=True)
class _Grant:
    document_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: Role
    read_only: bool
    read_token: bool  # opened with a read-only personal access token


class Authorization(Extension):
    """Who may open a document, by the policy. Sockets presenting the same token for the
    same document at the same time (a class opening one page, a reconnect storm) share one
    check: the database is asked once, not once per socket."""

    priority = 10

    def __init__(self, services: Backends) -> None:
        self.services = services
        self._checks: dict[tuple[str, str], asyncio.Task[_Grant]] = {}

    async def authenticate(self, ctx: AuthContext) -> None:
        if not ctx.token:
            raise Denied()
        key = (ctx.token, ctx.document_name)
        check = self._checks.get(key)
        if check is None:
            check = asyncio.ensure_future(self._check(ctx.token, ctx.document_name))
            self._checks[key] = check
            check.add_done_callback(lambda _c: self._checks.pop(key, None))
        grant = await asyncio.shield(check)
        ctx.document_id = grant.document_id
        ctx.user_id = grant.user_id
        ctx.session_id = grant.session_id
        ctx.role = grant.role
        ctx.read_only = grant.read_only
        if grant.read_token:
            ctx.extra[READ_TOKEN] = True

    async def _check(self, token: str, document_name: str) -> _Grant:
        try:
            document_id = uuid.UUID(document_name)
        except ValueError:
            raise Denied() from None
        caller = await resolve_token(self.services, token)
        if caller is None:
            raise Denied()
        _, role = await document_role(self.services.db, caller, document_id)
        if role is None:
            raise Denied()
        readable, read_only = access(role)
        if not readable:
            raise Denied()
        # A read-only personal access token opens documents read-only, whatever the role.
        read_token = not policy.token_allows(caller.scope, Action.UPDATE)
        read_only = read_only or read_token
        return _Grant(document_id, caller.user.id, caller.session_id, role, read_only, read_token)

    async def recheck(self, server: CollabServer) -> None:
        await recheck(server)


async def recheck(server: CollabServer) -> None:
    """Drop connections whose member left, whose document was trashed or whose session was
    revoked; tell the others when their role moved across read-only."""
    conns = [c for doc in list(server.documents.values()) for c in list(doc.connections)]
    if not conns:
        return
    docs = list({c.auth.document_id for c in conns if c.auth.document_id})
    users = list({c.auth.user_id for c in conns if c.auth.user_id})
    sessions = list({c.auth.session_id for c in conns if c.auth.session_id})
    live_sessions: set[uuid.UUID] = set()
    db = server.services.db
    async with db.primary_read_session() as session:
        roles = await document_roles(session, docs, users)
        now = utcnow()
        for i in range(0, len(sessions), _CHUNK):
            found = await session.execute(
                select(AuthSession.id).where(
                    AuthSession.id.in_(sessions[i : i + _CHUNK]),
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                )
            )
            live_sessions.update(found.scalars())
        # Personal access tokens stand in for sessions: revoked or expired ones are dropped.
        live_sessions.update(await personal_tokens.live_ids(session, sessions))
    for conn in conns:
        if conn.closed:
            continue
        auth = conn.auth
        role = roles.get((auth.document_id, auth.user_id))  # type: ignore[arg-type]
        if auth.session_id not in live_sessions:
            role = None
        readable, read_only = access(role)
        read_only = read_only or bool(auth.extra.get(READ_TOKEN))
        if not readable:
            server.metrics_denied()
            if conn.acks:
                conn.send(p.permission_denied(p.PERMISSION_DENIED))
            else:
                conn.send(p.yws_permission_denied(p.PERMISSION_DENIED))
            socket = conn.socket
            await socket.drop(conn, reason=p.PERMISSION_DENIED)
            if not socket.connections:
                socket.transport.close(p.CLOSE_FORBIDDEN, "Forbidden")
        elif read_only != auth.read_only:
            auth.role, auth.read_only = role, read_only
            if conn.acks:
                conn.send(p.authenticated(read_only))
