"""The audit log: who did what, when, from where.

``add`` writes an entry in the caller's transaction (kept only if the change is); ``record``
writes one in a transaction of its own (failed sign-ins, whose request rolls back). Every
entry is also one line of the JSON log (logger ``mdreader.audit``, fields ``audit_*``), which
CloudWatch keeps on AWS. Entries older than ``MDREADER_AUDIT_RETENTION_DAYS`` are deleted by
the ``Pruner`` (hourly, in the app's lifespan).

Actions: ``auth.sign_in``, ``auth.sign_in_failed``, ``auth.sign_out``, ``mfa.enabled``,
``mfa.disabled``, ``password.reset_requested``, ``password.reset``, ``password.changed``,
``member.added``, ``member.role_changed``, ``member.removed``, ``invitation.created``,
``invitation.revoked``, ``share.created``, ``share.revoked``, ``token.created``,
``token.revoked``, ``webhook.created``, ``webhook.deleted``, ``workspace.exported``,
``document.exported``, ``document.trashed``, ``document.deleted``, ``workspace.deleted``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Services
from mdreader.db.models import AuditEvent
from mdreader.db.types import utcnow

log = logging.getLogger("mdreader.audit")
PRUNE_EVERY = 3600.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Who acts and from where: the request's caller, address and user agent."""

    actor_id: uuid.UUID | None
    actor_email: str | None
    ip: str
    user_agent: str


def _entry(
    origin: Origin,
    action: str,
    *,
    workspace_id: uuid.UUID | None = None,
    subject_user_id: uuid.UUID | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        id=uuid.uuid4(),
        at=utcnow(),
        action=action,
        actor_id=origin.actor_id,
        actor_email=origin.actor_email,
        subject_user_id=subject_user_id,
        workspace_id=workspace_id,
        target=target[:300] if target else None,
        detail=json.dumps(detail or {}, default=str),
        ip=origin.ip[:64],
        user_agent=origin.user_agent[:300],
    )
    log.info(
        "audit %s",
        action,
        extra={
            "audit": {
                "id": str(event.id),
                "action": action,
                "actor": str(origin.actor_id) if origin.actor_id else None,
                "actor_email": origin.actor_email,
                "subject_user": str(subject_user_id) if subject_user_id else None,
                "workspace": str(workspace_id) if workspace_id else None,
                "target": target,
                "detail": json.loads(event.detail),
                "ip": origin.ip,
            }
        },
    )
    return event


class About(TypedDict, total=False):
    """What an entry is about (each optional): its workspace, the account acted on, a target
    (a document id, an e-mail address, …) and details."""

    workspace_id: uuid.UUID | None
    subject_user_id: uuid.UUID | None
    target: str | None
    detail: dict[str, Any] | None


def add(session: AsyncSession, origin: Origin, action: str, **about: Unpack[About]) -> None:
    session.add(_entry(origin, action, **about))


async def record(services: Services, origin: Origin, action: str, **about: Unpack[About]) -> None:
    async with services.db.session() as session:
        add(session, origin, action, **about)


async def for_workspace(
    session: AsyncSession, workspace_id: uuid.UUID, *, before: datetime | None, limit: int
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if before is not None:
        query = query.where(AuditEvent.at < before)
    rows = await session.scalars(query.order_by(AuditEvent.at.desc()).limit(limit))
    return list(rows)


async def for_user(
    session: AsyncSession, user_id: uuid.UUID, *, before: datetime | None, limit: int
) -> list[AuditEvent]:
    """What the user did, and what was done to their account (failed sign-ins included)."""
    query = select(AuditEvent).where(
        or_(AuditEvent.actor_id == user_id, AuditEvent.subject_user_id == user_id)
    )
    if before is not None:
        query = query.where(AuditEvent.at < before)
    rows = await session.scalars(query.order_by(AuditEvent.at.desc()).limit(limit))
    return list(rows)


async def prune(services: Services) -> int:
    """Delete entries past the retention; how many."""
    days = services.settings.audit_retention_days
    if not days:
        return 0
    async with services.db.session() as session:
        result = await session.execute(
            delete(AuditEvent).where(AuditEvent.at < utcnow() - timedelta(days=days))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@asynccontextmanager
async def pruner(services: Services) -> AsyncIterator[None]:
    async def run() -> None:
        while True:
            try:
                removed = await prune(services)
                if removed:
                    log.info("audit log: %d entries past retention deleted", removed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("audit log pruning failed")
            await asyncio.sleep(PRUNE_EVERY)

    task = asyncio.create_task(run(), name="audit-pruner")
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
