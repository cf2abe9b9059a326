"""Request dependencies: database sessions, the caller, and the policy guard of each route.

Every route under /api declares exactly one guard from here (``public``, ``authenticated``,
``workspace_guard``, ``document_guard`` or ``file_guard``); the route-matrix test fails for a
route without.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from mdreader import policy
from mdreader.backends.identity import Identity
from mdreader.context import Services
from mdreader.db.models import AuthSession, Document, File, Membership, Share, User, Workspace
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.policy import Action, Role, Scope, Subject
from mdreader.services import tokens as personal_tokens
from mdreader.services.tokens import Grant


# Dependencies are coroutines: FastAPI runs a plain `def` in a worker thread, a costly hop.
async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A write transaction, committed after the handler returns."""
    async with services.db.session() as session:
        yield session


async def get_read_session(services: ServicesDep, request: Request) -> AsyncIterator[AsyncSession]:
    """Reads only; served by the read replica when one is configured, unless the answer is
    to be cached against the primary's change stamp (api/hot.py), which a lagging replica
    would not match."""
    if request.scope.get(PRIMARY_READS):
        async with services.db.primary_read_session() as session:
            yield session
        return
    async with services.db.read_session() as session:
        yield session


PRIMARY_READS = "mdreader.primary_reads"  # scope key: this request reads the primary only


# scope="function": the transaction commits before the response leaves, so the caller's next
# request sees what this one wrote.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def client_ip(request: Request, trusted: list[str], header: str | None = None) -> str:
    """The client's address: the one function rate limits, sign-in throttles, sessions and
    access logs ask. Forwarded addresses count only when the peer is a trusted proxy; then
    ``header`` (``MDREADER_CLIENT_IP_HEADER``, e.g. CloudFront's ``CloudFront-Viewer-Address``,
    which the edge sets itself) when the request has it, else the right-most
    ``X-Forwarded-For`` hop that is not itself a trusted proxy."""
    peer = request.client.host if request.client else ""
    if not trusted or not _in_networks(peer, trusted):
        return peer
    if header:
        viewer = _address_of(request.headers.get(header.lower(), ""))
        if viewer:
            return viewer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop
    return peer


def scope_client_ip(scope: Any, settings: Any) -> str:
    """``client_ip`` for plain ASGI layers (rate limit, access log): without a trusted proxy
    the peer is read straight off the scope (every request passes there)."""
    trusted = settings.trusted_proxies
    if trusted:
        return client_ip(Request(scope), trusted, settings.client_ip_header)
    peer = scope.get("client")
    return peer[0] if peer else ""


def _address_of(value: str) -> str | None:
    """The address in ``198.51.100.7``, ``198.51.100.7:46532``, ``[2001:db8::1]:443`` or
    CloudFront's ``2001:db8::1:443`` (address, a colon, the viewer's port); None when it is
    not an address."""
    value = value.strip()
    if not value:
        return None
    candidates = []
    if value.startswith("[") and "]" in value:
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1 or (":" in value and "." not in value and value.count(":") > 1):
        # IPv4 with a port, or an IPv6 address followed by CloudFront's ":port".
        candidates.append(value.rsplit(":", 1)[0])
    candidates.append(value)
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


async def get_client_ip(request: Request, services: ServicesDep) -> str:
    settings = services.settings
    return client_ip(request, settings.trusted_proxies, settings.client_ip_header)


ClientIP = Annotated[str, Depends(get_client_ip)]


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


def bearer_token(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization", ""))


def parse_bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def resolve_token(services: Services, token: str) -> Caller | None:
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
    services: Services, user_id: uuid.UUID, user_key: str | None = None
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


async def resolve_external(services: Services, identity: Identity, token: str) -> Caller | None:
    from mdreader.services.identity import user_for_identity

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


async def get_caller(request: Request, services: ServicesDep) -> Caller:
    token = bearer_token(request)
    if token is None:
        raise AppError(
            401,
            "Sign in first: this needs an access token.",
            "not_authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    caller = await resolve_token(services, token)
    if caller is None:
        raise AppError(
            401,
            "The access token is invalid or expired.",
            "invalid_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


async def public() -> None:
    """Guard of routes anyone may call (sign-up, sign-in, health)."""


public.__policy__ = "public"  # type: ignore[attr-defined]


async def authenticated(caller: Annotated[Caller, Depends(get_caller)], request: Request) -> Caller:
    """Guard of routes about the caller's own account. A personal access token may read
    here (who am I, my workspaces) but change nothing: the account, its tokens and new
    workspaces need a signed-in session."""
    if caller.grant is not None and request.method not in ("GET", "HEAD"):
        raise AppError(
            403,
            "A personal access token cannot change the account or make workspaces; "
            "sign in for that.",
            "token_scope",
        )
    return caller


authenticated.__policy__ = "authenticated"  # type: ignore[attr-defined]

CurrentCaller = Annotated[Caller, Depends(authenticated)]
# The caller as the resource guards see it: the policy (with the token's scope) decides there.
AnyCaller = Annotated[Caller, Depends(get_caller)]


def _role(name: str | None) -> Role | None:
    return Role[name.upper()] if name else None


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    caller: Caller
    workspace: Workspace
    role: Role


@dataclass(frozen=True, slots=True)
class DocumentAccess:
    caller: Caller
    document: Row[Any]  # the columns of DOCUMENT_AND_ROLE: the document's but its text
    role: Role


@dataclass(frozen=True, slots=True)
class FileAccess:
    caller: Caller
    file: File
    role: Role


# The guards' queries, built once: every request only binds its ids.
WORKSPACE_AND_ROLE = (
    select(Workspace, Membership.role)
    .outerjoin(
        Membership,
        (Membership.workspace_id == Workspace.id) & (Membership.user_id == bindparam("user_id")),
    )
    .where(Workspace.id == bindparam("workspace_id"))
)
# The document's columns except its text and Yjs state (which can be large; handlers read
# them when they need them) and the caller's role: a plain row, no ORM object to build.
DOCUMENT_AND_ROLE = (
    select(
        *(
            column
            for column in Document.__table__.columns
            if column.key not in ("content", "ystate")
        ),
        Membership.role,
    )
    .outerjoin(
        Membership,
        (Membership.workspace_id == Document.workspace_id)
        & (Membership.user_id == bindparam("user_id")),
    )
    .where(Document.id == bindparam("document_id"))
)

FILE_AND_ROLE = (
    select(File, Membership.role)
    .outerjoin(
        Membership,
        (Membership.workspace_id == File.workspace_id)
        & (Membership.user_id == bindparam("user_id")),
    )
    .where(File.id == bindparam("file_id"))
)


def workspace_guard(subject: Subject, action: Action) -> Callable[..., Any]:
    """Guard for /workspaces/{workspace_id}/...: member role checked against the policy."""
    policy.rule(subject, action)

    async def guard(
        workspace_id: uuid.UUID,
        caller: AnyCaller,
        services: ServicesDep,
        request: Request,
    ) -> WorkspaceAccess:
        async with services.db.primary_read_session() as session:
            row = (
                await session.execute(
                    WORKSPACE_AND_ROLE, {"workspace_id": workspace_id, "user_id": caller.user.id}
                )
            ).first()
        workspace, role = (row[0], _role(row[1])) if row else (None, None)
        if caller.bound_out(workspace_id):
            role = None
        target = request.path_params.get("user_id")
        is_self = target is not None and str(target) == str(caller.user.id)
        policy.authorize(
            role, action, subject, is_self=is_self, what="Workspace", scope=caller.scope
        )
        assert workspace is not None and role is not None
        return WorkspaceAccess(caller, workspace, role)

    guard.__policy__ = (subject, action)  # type: ignore[attr-defined]
    return guard


def document_guard(
    subject: Subject, action: Action, *, include_deleted: bool = False
) -> Callable[..., Any]:
    """Guard for /documents/{document_id}/...: the document's workspace role decides."""
    policy.rule(subject, action)

    async def guard(
        document_id: uuid.UUID, caller: AnyCaller, services: ServicesDep
    ) -> DocumentAccess:
        return await document_access(
            services, caller, document_id, subject, action, include_deleted=include_deleted
        )

    guard.__policy__ = (subject, action)  # type: ignore[attr-defined]
    return guard


async def document_access(
    services: Services,
    caller: Caller,
    document_id: uuid.UUID,
    subject: Subject,
    action: Action,
    *,
    include_deleted: bool = False,
) -> DocumentAccess:
    """What ``document_guard`` decides, for the layer that serves hot routes before the
    router (api/hot.py): the caller's access to the document, or AppError (404 / 403)."""
    document = await services.db.read_row(
        DOCUMENT_AND_ROLE, {"document_id": document_id, "user_id": caller.user.id}
    )
    role = _role(document.role) if document is not None else None
    if document is not None and document.deleted_at is not None and not include_deleted:
        role = None
    if document is not None and caller.bound_out(document.workspace_id):
        role = None
    policy.authorize(role, action, subject, what="Document", scope=caller.scope)
    assert document is not None and role is not None
    return DocumentAccess(caller, document, role)


def file_guard(subject: Subject, action: Action) -> Callable[..., Any]:
    """Guard for /files/{file_id}: the file's workspace role decides."""
    policy.rule(subject, action)

    async def guard(file_id: uuid.UUID, caller: AnyCaller, services: ServicesDep) -> FileAccess:
        async with services.db.primary_read_session() as session:
            row = (
                await session.execute(
                    FILE_AND_ROLE, {"file_id": file_id, "user_id": caller.user.id}
                )
            ).first()
        file, role = (row[0], _role(row[1])) if row else (None, None)
        if file is not None and caller.bound_out(file.workspace_id):
            role = None
        policy.authorize(role, action, subject, what="File", scope=caller.scope)
        assert file is not None and role is not None
        return FileAccess(caller, file, role)

    guard.__policy__ = (subject, action)  # type: ignore[attr-defined]
    return guard


def WorkspaceGuard(subject: Subject, action: Action) -> type[WorkspaceAccess]:
    """The annotation of a route parameter guarded by ``workspace_guard``."""
    return Annotated[WorkspaceAccess, Depends(workspace_guard(subject, action))]  # type: ignore[return-value]


def DocumentGuard(subject: Subject, action: Action, **kw: bool) -> type[DocumentAccess]:
    """The annotation of a route parameter guarded by ``document_guard``."""
    return Annotated[DocumentAccess, Depends(document_guard(subject, action, **kw))]  # type: ignore[return-value]


def FileGuard(subject: Subject, action: Action) -> type[FileAccess]:
    """The annotation of a route parameter guarded by ``file_guard``."""
    return Annotated[FileAccess, Depends(file_guard(subject, action))]  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ShareAccess:
    caller: Caller
    document: Document
    share: Share
    role: Role


def share_guard(action: Action) -> Callable[..., Any]:
    """Guard for /documents/{document_id}/shares/{token}: the document's workspace role
    decides, and whoever made the link counts as its owner (``self_allowed`` rules)."""
    policy.rule(Subject.SHARE, action)

    async def guard(
        document_id: uuid.UUID, token: str, caller: AnyCaller, services: ServicesDep
    ) -> ShareAccess:
        async with services.db.primary_read_session() as session:
            row = (
                await session.execute(
                    select(Document, Membership.role)
                    .options(defer(Document.content), defer(Document.ystate))
                    .outerjoin(
                        Membership,
                        (Membership.workspace_id == Document.workspace_id)
                        & (Membership.user_id == caller.user.id),
                    )
                    .where(Document.id == document_id, Document.deleted_at.is_(None))
                )
            ).first()
            document, role = (row[0], _role(row[1])) if row else (None, None)
            if document is not None and caller.bound_out(document.workspace_id):
                role = None
            share = None
            if role is not None:
                share = await session.scalar(
                    select(Share).where(
                        Share.token == token,
                        Share.document_id == document_id,
                        Share.revoked_at.is_(None),
                    )
                )
        if share is None:
            policy.authorize(role, Action.READ, Subject.SHARE, what="Document")
            raise AppError(404, "Share link not found.", "not_found")
        is_self = share.created_by == caller.user.id
        policy.authorize(
            role, action, Subject.SHARE, is_self=is_self, what="Document", scope=caller.scope
        )
        assert document is not None and role is not None
        return ShareAccess(caller, document, share, role)

    guard.__policy__ = (Subject.SHARE, action)  # type: ignore[attr-defined]
    return guard


@dataclass(frozen=True, slots=True)
class SharedFile:
    """A file of a shared document, as its public page may show it."""

    token: str
    file: File


async def shared_file_guard(token: str, file_id: uuid.UUID, services: ServicesDep) -> SharedFile:
    """Guard for /s/{token}/files/{file_id}: the share link is the credential; the policy
    grants the files its document links to, while the link works."""
    from mdreader.services import documents, shares

    async with services.db.primary_read_session() as session:
        document = await shares.resolve(session, token)
        file = await session.get(File, file_id)
        linked = False
        if document is not None and file is not None:
            content = await documents.live_content(session, document.id)
            _, files = shares.shared_files(content, services.settings.public_url, token)
            linked = file.workspace_id == document.workspace_id and file.id in files
    policy.authorize_shared(link_works=document is not None, linked=linked, what="File")
    assert file is not None
    return SharedFile(token, file)


shared_file_guard.__policy__ = "share-link"  # type: ignore[attr-defined]
SharedFileGuard = Annotated[SharedFile, Depends(shared_file_guard)]


def ShareGuard(action: Action) -> type[ShareAccess]:
    """The annotation of a route parameter guarded by ``share_guard``."""
    return Annotated[ShareAccess, Depends(share_guard(action))]  # type: ignore[return-value]
