"""Share links: public read-only pages of one document at ``/s/{token}``."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from mdreader.db.models import Document, Share
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services.transfer import FILE_LINK, rewrite_links

TOKEN_BYTES = 24  # 32 URL-safe characters


def url_of(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}"


async def create(
    session: AsyncSession,
    document_id: uuid.UUID,
    user_id: uuid.UUID,
    expires_at: datetime | None,
) -> Share:
    now = utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= now:
            raise AppError(422, "The expiry of a share link must be in the future.", "invalid")
    share = Share(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        document_id=document_id,
        created_by=user_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(share)
    await session.flush()
    return share


def _live(now: datetime):  # type: ignore[no-untyped-def]
    return (
        Share.revoked_at.is_(None),
        or_(Share.expires_at.is_(None), Share.expires_at > now),
    )


async def active(session: AsyncSession, document_id: uuid.UUID) -> list[Share]:
    rows = await session.scalars(
        select(Share)
        .where(Share.document_id == document_id, *_live(utcnow()))
        .order_by(Share.created_at.desc())
    )
    return list(rows)


async def revoke(session: AsyncSession, share_id: uuid.UUID) -> None:
    share = await session.get(Share, share_id)
    if share is not None and share.revoked_at is None:
        share.revoked_at = utcnow()


async def resolve(session: AsyncSession, token: str) -> Document | None:
    """The document a public token shows, or None: unknown, revoked, expired, or trashed."""
    if not token or len(token) > 64:
        return None
    return await session.scalar(
        select(Document)
        .options(defer(Document.content), defer(Document.ystate))  # read when rendered
        .join(Share, Share.document_id == Document.id)
        .where(Share.token == token, Document.deleted_at.is_(None), *_live(utcnow()))
    )


def file_url(token: str, file_id: uuid.UUID) -> str:
    """Where an anonymous reader of the share fetches one of the document's files."""
    return f"/s/{token}/files/{file_id}"


def shared_files(content: str, public_url: str, token: str) -> tuple[str, set[uuid.UUID]]:
    """The Markdown with its links to the workspace's files (``/api/files/{id}``, also with the
    public URL) pointed at the share's own route, and the ids of those files: what the link
    grants besides the text."""
    public = public_url.rstrip("/")
    found: set[uuid.UUID] = set()

    def resolve(target: str) -> str | None:
        path = target[len(public) :] if target.startswith(public + "/") else target
        match = FILE_LINK.match(path)
        if match is None:
            return None
        file_id = uuid.UUID(match.group(1))
        found.add(file_id)
        return file_url(token, file_id)

    return rewrite_links(content, resolve), found
