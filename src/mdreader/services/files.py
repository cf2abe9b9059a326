"""Uploaded files: names made safe, types sniffed from the bytes, stored under server ids."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import posixpath
import unicodedata
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Backends, Services
from mdreader.db.engine import after_commit
from mdreader.db.models import File
from mdreader.errors import AppError

log = logging.getLogger("mdreader.files")

# Raster images a browser may show inline: they cannot carry script.
SAFE_INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv"})
# Declared types that say nothing about the content.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
EXTENSION_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<?xml-stylesheet",
)
MAX_NAME = 255


def normalize_name(raw: str | None) -> str:
    """NFC, the last path part only, no control or format characters, at most 255 chars."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME:
        stem, ext = posixpath.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: MAX_NAME - len(ext)] + ext
    return name or "file"


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are, from their signature; None when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text[:8192]):
        return None
    head = text[:2048].lstrip().lower().encode()
    if head.startswith(HTML_STARTS) or b"<html" in head[:512]:
        return "text/html"
    if b"<svg" in head and head.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg")):
        return "image/svg+xml"
    return "text/plain"


def _same_kind(claimed: str, real: str) -> bool:
    if claimed == real:
        return True
    # Markdown and CSV are plain text to a sniffer.
    return real == "text/plain" and claimed in TEXT_TYPES


def decide_type(name: str, declared: str | None, data: bytes, allowed: list[str]) -> str:
    """The type to store: sniffed from the bytes, refined by the declared type or extension
    (text/markdown vs text/plain), and refused (415) unless everything agrees and is allowed."""
    real = sniff(data)
    if real is None:
        raise AppError(415, "This type of file is not allowed.", "unsupported_media_type")
    claims: list[str] = []
    declared_type = (declared or "").split(";", 1)[0].strip().lower()
    if declared_type not in GENERIC_TYPES:
        claims.append(declared_type)
    ext = posixpath.splitext(name)[1].lower()
    by_ext = EXTENSION_TYPES.get(ext) or (mimetypes.types_map.get(ext) if ext else None)
    if by_ext:
        claims.append(by_ext)
    for claim in claims:
        if not _same_kind(claim, real):
            raise AppError(
                415,
                f"The file's content ({real}) does not match its declared type or name ({claim}).",
                "unsupported_media_type",
            )
    chosen = next((c for c in claims if c in TEXT_TYPES), real) if real == "text/plain" else real
    if chosen not in allowed:
        raise AppError(415, "This type of file is not allowed.", "unsupported_media_type")
    return chosen


def storage_key(workspace_id: uuid.UUID, file_id: uuid.UUID) -> str:
    return f"files/{workspace_id.hex}/{file_id.hex}"


async def store_file(
    services: Backends,
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    uploader_id: uuid.UUID | None,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
) -> File:
    settings = services.settings
    if len(data) > settings.max_upload_bytes:
        raise AppError(
            413, f"The file is larger than {settings.max_upload_bytes} bytes.", "too_large"
        )
    name = normalize_name(filename)
    content_type = decide_type(name, declared_type, data, settings.upload_types)
    file_id = uuid.uuid4()
    row = File(
        id=file_id,
        workspace_id=workspace_id,
        uploader_id=uploader_id,
        name=name,
        content_type=content_type,
        size=len(data),
        storage_key=storage_key(workspace_id, file_id),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    # Bytes first: a row never points at nothing. A failed commit leaves an orphan object,
    # which costs space but never breaks a link.
    await services.storage.put(row.storage_key, data, content_type)
    session.add(row)
    await session.flush()
    return row


async def delete_file(services: Services, session: AsyncSession, row: File) -> None:
    key = row.storage_key
    await session.delete(row)
    await session.flush()
    after_commit(session, lambda: purge(services, [key]))


async def delete_workspace_files(
    services: Services, session: AsyncSession, workspace_id: uuid.UUID
) -> None:
    """The workspace's rows go with it (ON DELETE CASCADE); its bytes go once that commits."""
    keys = list(
        await session.scalars(select(File.storage_key).where(File.workspace_id == workspace_id))
    )
    if keys:
        after_commit(session, lambda: purge(services, keys))


async def purge(services: Backends, keys: list[str]) -> None:
    """Delete objects whose rows are gone; a failure leaves an orphan, never a broken link."""
    for key in keys:
        try:
            await services.storage.delete(key)
        except Exception:
            log.warning("could not delete stored file %s", key, exc_info=True)


class StoredAttachments:
    """Files for export and import (``services.transfer.Attachments``) on the storage
    backend: the same records, limits and type checks as uploads."""

    def __init__(self, services: Backends) -> None:
        self.services = services

    async def read(
        self, session: AsyncSession, workspace_id: uuid.UUID, file_id: uuid.UUID
    ) -> tuple[str, bytes] | None:
        row = await session.get(File, file_id)
        if row is None or row.workspace_id != workspace_id:
            return None  # never another workspace's file, whatever a document links to
        data = await self.services.storage.get(row.storage_key)
        return None if data is None else (row.name, data)

    async def save(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        user_id: uuid.UUID | None,
        name: str,
        data: bytes,
    ) -> tuple[uuid.UUID, str]:
        row = await store_file(
            self.services,
            session,
            workspace_id=workspace_id,
            uploader_id=user_id,
            filename=name,
            declared_type=None,
            data=data,
        )
        return row.id, f"/api/files/{row.id}"

    async def delete(self, workspace_id: uuid.UUID, file_id: uuid.UUID) -> None:
        # The import's transaction rolls the record back; the bytes go now.
        await purge(self.services, [storage_key(workspace_id, file_id)])
