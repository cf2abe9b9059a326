"""Import of Markdown files and zips into a workspace.

Import reads the export's layout back (and any tree of ``.md`` files): ``A.md`` plus ``A/``
make one document with children, a folder without a ``.md`` of its name becomes an empty
document, relative links to other imported files become links to the new documents, and
images and other files are stored as attachments when storage exists (skipped otherwise).
A hostile archive (paths escaping the tree, absolute paths, symlinks, zip bombs, too many
or too large entries) is refused with a 4xx before anything is written (``archives``), and
the documents are created in the caller's transaction: all or nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader import storable
from mdreader.db.models import Document, DocumentVersion, SearchDocument
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import documents as docs
from mdreader.services.links import resolve_wikilinks
from mdreader.services.transfer.archives import ImportFile, bad_import
from mdreader.services.transfer.layout import (
    MARKDOWN_SUFFIXES,
    TITLES_FILE,
    Attachments,
    Progress,
    rewrite_links,
    stem,
    stored_title,
)

if TYPE_CHECKING:
    from mdreader.context import Services
    from mdreader.settings import Settings


log = logging.getLogger("mdreader.transfer")


IMPORT_BATCH = 500


def _decode(data: bytes) -> str:
    text = data.decode("utf-8-sig", errors="replace")
    return text.replace("\r\n", "\n")


def _is_markdown(path: str) -> bool:
    return path.lower().endswith(MARKDOWN_SUFFIXES)


def _titles(data: bytes | None) -> dict[str, str]:
    """The export's title list (ignored when it is not one)."""
    try:
        found = json.loads(data) if data else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str) and v}


@dataclass
class _Planned:
    key: str  # the path without suffix: "A/B"
    title: str
    content: str
    source: str | None  # the file it came from (None: a folder)
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    parent: str | None = None


def _plan(files: list[ImportFile]) -> tuple[list[_Planned], dict[str, bytes]]:
    """Documents in parent-first order, and the other files (attachments) by path.

    Siblings keep the order in which they come in the archive (an export lists them in
    their order in the tree), so a round trip keeps positions.
    """
    planned: dict[str, _Planned] = {}
    implicit: set[str] = set()  # folders without a Markdown file of their own (yet)
    others: dict[str, bytes] = {}
    for f in files:
        if not _is_markdown(f.path):
            others[f.path] = f.data
            continue
        key = posixpath.splitext(f.path)[0]
        # Folders that hold documents become documents, empty unless "Folder.md" comes.
        folder = posixpath.dirname(key)
        missing = []
        while folder and folder not in planned:
            missing.append(folder)
            folder = posixpath.dirname(folder)
        for folder in reversed(missing):
            planned[folder] = _Planned(folder, posixpath.basename(folder), "", None)
            implicit.add(folder)
        if key in planned and key not in implicit:
            raise bad_import(f"Two files would become the same document: {f.path!r}.")
        if key in implicit:
            implicit.discard(key)
            item = planned[key]
            item.title, item.content, item.source = stem(f.path), _decode(f.data), f.path
        else:
            planned[key] = _Planned(key, stem(f.path), _decode(f.data), f.path)
    titles = _titles(others.pop(TITLES_FILE, None))
    for key, item in planned.items():
        item.parent = posixpath.dirname(key) or None
        if item.source in titles:
            item.title = titles[item.source]
    # A stable sort: parents before children, siblings in archive order.
    ordered = sorted(planned.values(), key=lambda p: p.key.count("/"))
    return ordered, others


async def import_files(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID | None,
    files: list[ImportFile],
    *,
    parent_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> list[Document]:
    """Create the documents of ``files`` in the session's transaction (parents first).

    The work on the text (decoding, checks, links) runs in a worker thread, so
    a large archive does not hold up other requests; the transaction only inserts."""
    attachments: Attachments | None = services.attachments  # None: attachments are skipped
    planned, others, referenced = await asyncio.to_thread(
        _prepare, services.settings, files, attachments is not None
    )
    deepest = max(planned, key=lambda item: item.key.count("/"))
    under = 0
    if parent_id is not None:
        under = docs.level_of(await docs.tree_of(session, workspace_id), parent_id)
    try:
        docs.check_depth(services, under + deepest.key.count("/") + 1)
    except AppError as exc:
        exc.detail += f" ({deepest.source or deepest.key!r} is the deepest.)"
        raise
    saved: dict[str, str] = {}  # attachment path -> URL
    saved_ids: list[uuid.UUID] = []
    refused: set[str] = set()
    try:
        for path in referenced if attachments is not None else ():
            try:
                file_id, url = await attachments.save(  # type: ignore[union-attr]
                    session, workspace_id, user_id, posixpath.basename(path), others[path]
                )
            except AppError as exc:
                if exc.status not in (413, 415):
                    raise
                refused.add(path)  # a type or size the instance does not take
                continue
            saved_ids.append(file_id)
            saved[path] = url
        await asyncio.to_thread(_link, planned, saved)
        created = await _insert(
            services, session, workspace_id, user_id, planned, parent_id, progress
        )
        await session.flush()
    except BaseException:
        if attachments is not None:
            for file_id in saved_ids:
                try:
                    await attachments.delete(workspace_id, file_id)
                except Exception:
                    log.exception("could not remove attachment %s of a failed import", file_id)
        raise
    skipped = sorted(set(others) - set(saved))
    if skipped:
        log.info("import skipped %d non-Markdown file(s): %s", len(skipped), skipped[:20])
    return created


def _prepare(
    settings: Settings, files: list[ImportFile], with_attachments: bool
) -> tuple[list[_Planned], dict[str, bytes], list[str]]:
    """The planned documents (checked: size, storable text), the other files, and the
    attachments they reference, in the order first referenced (a worker thread's part)."""
    planned, others = _plan(files)
    if not planned:
        raise AppError(422, "There is no Markdown file to import.", "nothing_to_import")
    limit = settings.max_document_bytes
    for item in planned:
        if len(item.content.encode()) > limit:
            raise AppError(
                413,
                f"{item.source!r} is larger than a document may be ({limit} bytes).",
                "too_large",
            )
        storable.check(item.content, f"The file {item.source!r}")
    referenced: dict[str, None] = {}
    if with_attachments:
        for item in planned:
            folder = posixpath.dirname(item.source or item.key)
            referenced.update(dict.fromkeys(_referenced(item.content, folder, others)))
    return planned, others, list(referenced)


def _link(planned: list[_Planned], saved: dict[str, str]) -> None:
    """Turn relative links into links to the new documents and the stored attachments (a
    worker thread's part). No Yjs state is made: a document is seeded from its text when
    first edited (see ytext)."""
    by_path = {item.source: item for item in planned if item.source}
    # [[Title]] links between the imported files become links by id (rename-safe).
    titles: dict[str, uuid.UUID] = {}
    for item in planned:
        titles.setdefault(item.title.strip().lower(), item.id)
    for item in planned:
        folder = posixpath.dirname(item.source or item.key)

        def resolve(target: str, folder: str = folder) -> str | None:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path or target.startswith("/"):
                return None
            path = posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            if path in by_path:
                return f"/d/{by_path[path].id}{fragment}"
            return saved.get(path)

        item.content = resolve_wikilinks(rewrite_links(item.content, resolve), titles)


def _referenced(content: str, folder: str, others: dict[str, bytes]) -> list[str]:
    found: list[str] = []

    def collect(target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path or target.startswith("/"):
            return None
        path = posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
        if path in others and path not in found:
            found.append(path)
        return None

    rewrite_links(content, lambda t: collect(t))
    return found


async def _insert(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID | None,
    planned: list[_Planned],
    parent_id: uuid.UUID | None,
    progress: Progress | None,
) -> list[Document]:
    """Insert the planned documents (parents first) with their search entry and first
    version, in batches: one statement per table and batch instead of several per document.

    The text is stored once, in ``documents.content``: no Yjs state yet (seeded from the
    text when first edited, see ytext), the search entry and the first version refer to it
    (``body`` and ``content`` NULL, see services.search and services.versions)."""
    if parent_id is not None:
        await docs.parent_in(session, workspace_id, parent_id)
    top = await session.scalar(
        select(func.max(Document.position)).where(
            Document.workspace_id == workspace_id,
            Document.deleted_at.is_(None),
            Document.parent_id.is_(None) if parent_id is None else Document.parent_id == parent_id,
        )
    )
    next_position: dict[str | None, int] = {None: (top + 1) if top is not None else 0}
    ids = {item.key: item.id for item in planned}
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for item in planned:
        position = next_position.get(item.parent, 0)
        next_position[item.parent] = position + 1
        title = stored_title(item.title)
        rows.append(
            {
                "id": item.id,
                "workspace_id": workspace_id,
                "parent_id": ids[item.parent] if item.parent else parent_id,
                "title": title,
                "position": position,
                "content": item.content,
                "ystate": b"",
                "created_by": user_id,
                "updated_by": user_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    done = 0
    for start in range(0, len(rows), IMPORT_BATCH):
        batch = rows[start : start + IMPORT_BATCH]
        await session.execute(insert(Document), batch)
        await session.execute(
            insert(SearchDocument),
            [
                {
                    "document_id": r["id"],
                    "workspace_id": workspace_id,
                    "title": r["title"],
                    "body": None,
                }
                for r in batch
            ],
        )
        versions = [
            {
                "id": uuid.uuid4(),
                "document_id": r["id"],
                "title": r["title"],
                "content": None,
                "author_id": user_id,
                "created_at": now,
            }
            for r in batch
            if r["content"]
        ]
        if versions:
            await session.execute(insert(DocumentVersion), versions)
        done += len(batch)
        if progress:
            progress(done, len(rows))
    return [
        Document(**{k: v for k, v in r.items() if k != "ystate"})  # detached, for the answer
        for r in rows
    ]
