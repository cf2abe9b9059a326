"""Request dependencies: database sessions, the caller, and the policy guard of each route.

Every route under /api declares exactly one guard from here (``public``, ``authenticated``,
``workspace_guard``, ``document_guard``, ``file_guard``, ``share_guard``, ``comments_guard``,
``comment_guard`` or ``shared_file_guard``), as the type of a parameter:
``access: Annotated[DocumentAccess, Depends(document_guard(Subject.DOCUMENT, Action.READ))]``;
the route-matrix test fails for a route without. The guards only adapt ``mdreader.access``
(who the caller is, and their role) to FastAPI: the decisions are made there and in
``mdreader.policy``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader import policy
from mdreader.access import roles
from mdreader.access.address import client_ip
from mdreader.access.identity import Caller, parse_bearer, resolve_token
from mdreader.access.roles import (
    CommentAccess,
    DocumentAccess,
    FileAccess,
    ShareAccess,
    WorkspaceAccess,
)
from mdreader.context import Services
from mdreader.db.models import File
from mdreader.errors import AppError
from mdreader.policy import Action, Subject
from mdreader.services import documents, shares


def _policy(guard: Any, mark: object) -> None:
    """Mark a guard with the rule it applies, for the route-matrix test."""
    guard.__policy__ = mark


# Dependencies are coroutines: FastAPI runs a plain `def` in a worker thread, a costly hop.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A write transaction, committed after the handler returns."""
    async with services.db.session() as session:
        yield session


async def get_read_session(services: ServicesDep, request: Request) -> AsyncIterator[AsyncSession]:
    """Reads only; served by the read replica when one is configured, unless the answer is
    to be cached against the primary's change stamp (fast/documents.py), which a lagging replica
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


async def get_client_ip(request: Request, services: ServicesDep) -> str:
    settings = services.settings
    return client_ip(request, settings.trusted_proxies, settings.client_ip_header)


ClientIP = Annotated[str, Depends(get_client_ip)]


def bearer_token(request: Request) -> str | None:
    return parse_bearer(request.headers.get("authorization", ""))


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


_policy(public, "public")


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


_policy(authenticated, "authenticated")

CurrentCaller = Annotated[Caller, Depends(authenticated)]
# The caller as the resource guards see it: the policy (with the token's scope) decides there.
AnyCaller = Annotated[Caller, Depends(get_caller)]


def workspace_guard(subject: Subject, action: Action) -> Callable[..., Awaitable[WorkspaceAccess]]:
    """Guard for /workspaces/{workspace_id}/...: member role checked against the policy."""
    policy.rule(subject, action)

    async def guard(
        workspace_id: uuid.UUID, caller: AnyCaller, services: ServicesDep, request: Request
    ) -> WorkspaceAccess:
        target = request.path_params.get("user_id")
        is_self = target is not None and str(target) == str(caller.user.id)
        return await roles.workspace_access(
            services.db, caller, workspace_id, subject, action, is_self=is_self
        )

    _policy(guard, (subject, action))
    return guard


def document_guard(
    subject: Subject, action: Action, *, include_deleted: bool = False
) -> Callable[..., Awaitable[DocumentAccess]]:
    """Guard for /documents/{document_id}/...: the document's workspace role decides."""
    policy.rule(subject, action)

    async def guard(
        document_id: uuid.UUID, caller: AnyCaller, services: ServicesDep
    ) -> DocumentAccess:
        return await roles.document_access(
            services.db, caller, document_id, subject, action, include_deleted=include_deleted
        )

    _policy(guard, (subject, action))
    return guard


def file_guard(subject: Subject, action: Action) -> Callable[..., Awaitable[FileAccess]]:
    """Guard for /files/{file_id}: the file's workspace role decides."""
    policy.rule(subject, action)

    async def guard(file_id: uuid.UUID, caller: AnyCaller, services: ServicesDep) -> FileAccess:
        return await roles.file_access(services.db, caller, file_id, subject, action)

    _policy(guard, (subject, action))
    return guard


def share_guard(action: Action) -> Callable[..., Awaitable[ShareAccess]]:
    """Guard for /documents/{document_id}/shares/{token}: the document's workspace role
    decides, and whoever made the link counts as its owner (``self_allowed`` rules)."""
    policy.rule(Subject.SHARE, action)

    async def guard(
        document_id: uuid.UUID, token: str, caller: AnyCaller, services: ServicesDep
    ) -> ShareAccess:
        return await roles.share_access(services.db, caller, document_id, token, action)

    _policy(guard, (Subject.SHARE, action))
    return guard


def comments_guard(action: Action) -> Callable[..., Awaitable[CommentAccess]]:
    """Guard for /documents/{document_id}/comments: the caller's role in the document's
    workspace and the abilities the workspace grants it, checked against the policy. A
    personal access token's scope and workspace apply; the account-only restriction of
    ``authenticated`` does not."""
    policy.rule(Subject.COMMENT, action)

    async def guard(
        document_id: uuid.UUID, caller: AnyCaller, services: ServicesDep
    ) -> CommentAccess:
        return await roles.comment_access(services.db, caller, document_id, action)

    _policy(guard, (Subject.COMMENT, action))
    return guard


def comment_guard(action: Action) -> Callable[..., Awaitable[CommentAccess]]:
    """Guard for /documents/{document_id}/comments/{comment_id}: as ``comments_guard``, and
    whether the caller wrote the comment (``self_allowed`` rules)."""
    policy.rule(Subject.COMMENT, action)

    async def guard(
        document_id: uuid.UUID, comment_id: uuid.UUID, caller: AnyCaller, services: ServicesDep
    ) -> CommentAccess:
        return await roles.comment_access(services.db, caller, document_id, action, comment_id)

    _policy(guard, (Subject.COMMENT, action))
    return guard


@dataclass(frozen=True, slots=True)
class SharedFile:
    """A file of a shared document, as its public page may show it."""

    token: str
    file: File


async def shared_file_guard(token: str, file_id: uuid.UUID, services: ServicesDep) -> SharedFile:
    """Guard for /s/{token}/files/{file_id}: the share link is the credential; the policy
    grants the files its document links to, while the link works."""
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


_policy(shared_file_guard, "share-link")
SharedFileGuard = Annotated[SharedFile, Depends(shared_file_guard)]
