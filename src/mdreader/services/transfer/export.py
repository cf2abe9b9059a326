"""Export of a workspace as a zip of Markdown files.

Every document is ``Title.md``; a document with children also has a folder ``Title/``
holding them. Links between documents become relative links between the files, and
attachments (``/api/files/{id}``) are written under ``_attachments/`` (through
``Services.attachments``), so the export works outside MDReader.
"""

from __future__ import annotations

import json
import logging
import posixpath
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import Document, DocumentUpdate
from mdreader.services import documents as docs
from mdreader.services.transfer.layout import (
    ATTACHMENTS_DIR,
    DOCUMENT_LINK,
    FILE_LINK,
    TITLES_FILE,
    Attachments,
    Progress,
    quote_path,
    rewrite_links,
    safe_name,
    stem,
)

if TYPE_CHECKING:
    from mdreader.context import Services

log = logging.getLogger("mdreader.transfer")


@dataclass
class _Node:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    title: str
    content: str
    children: list[_Node] = field(default_factory=list)
    path: str = ""  # "Folder/Title.md"


def _assign_paths(roots: list[_Node], max_depth: int) -> None:
    """Give every node its path, parents before children, without recursion (a tree can be
    deeper than Python's stack). A tree deeper than ``max_depth`` (made before that limit
    existed) keeps its files, the levels past the limit laid flat in the deepest folder."""
    todo: list[tuple[list[_Node], str, int]] = [(roots, "", 1)]
    taken_in: dict[str, set[str]] = {}  # folder -> names used there (case-insensitively)
    while todo:
        nodes, folder, depth = todo.pop()
        taken = taken_in.setdefault(folder, set())
        for node in nodes:
            base = safe_name(node.title)
            name, n = base, 1
            # Names compare case-insensitively: a zip unpacked on macOS or Windows.
            while name.lower() in taken or name.lower() == ATTACHMENTS_DIR.lower():
                n += 1
                name = f"{base} ({n})"
            taken.add(name.lower())
            stem = f"{folder}{name}"
            node.path = f"{stem}.md"
            if node.children:
                if depth < max_depth:
                    todo.append((node.children, f"{stem}/", depth + 1))
                else:
                    todo.append((node.children, folder, depth))


async def _workspace_tree(
    session: AsyncSession, workspace_id: uuid.UUID, max_depth: int
) -> list[_Node]:
    rows = (
        await session.execute(
            select(
                Document.id,
                Document.parent_id,
                Document.title,
                Document.content,
                Document.ystate,
            )
            .where(Document.workspace_id == workspace_id, Document.deleted_at.is_(None))
            .order_by(Document.position, Document.created_at)
        )
    ).all()
    ids = [row.id for row in rows]
    pending: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        pending.update(
            await session.scalars(
                select(DocumentUpdate.document_id)
                .where(DocumentUpdate.document_id.in_(ids[start : start + 500]))
                .distinct()
            )
        )
    nodes: dict[uuid.UUID, _Node] = {}
    for row in rows:
        title, content = row.title, row.content
        if row.id in pending:
            title, content = await docs.live_texts(session, row.id)
        nodes[row.id] = _Node(row.id, row.parent_id, title, content)
    roots: list[_Node] = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    _assign_paths(roots, max_depth)
    return roots


def _walk(nodes: list[_Node]) -> Iterator[_Node]:
    """Depth first, parents before their children, without recursion."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


async def export_workspace(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    out: IO[bytes],
    progress: Progress | None = None,
) -> int:
    """Write the workspace's documents as a zip to ``out``; return how many were written."""
    roots = await _workspace_tree(session, workspace_id, services.settings.max_tree_depth)
    nodes = list(_walk(roots))
    by_id = {node.id: node for node in nodes}
    public = services.settings.public_url.rstrip("/")
    attachments: Attachments | None = services.attachments  # None: attachments are skipped
    stored: dict[uuid.UUID, str | None] = {}  # file id -> path in the zip (None: missing)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for done, node in enumerate(nodes, 1):
            folder = posixpath.dirname(node.path)
            files: list[uuid.UUID] = []

            def resolve(
                target: str, folder: str = folder, files: list[uuid.UUID] = files
            ) -> str | None:
                path = target[len(public) :] if target.startswith(public + "/") else target
                if m := DOCUMENT_LINK.match(path):
                    linked = by_id.get(uuid.UUID(m.group(1)))
                    if linked is None:
                        return None
                    rel = posixpath.relpath(linked.path, folder or ".")
                    return quote_path(rel) + (m.group(2) or "")
                if (m := FILE_LINK.match(path)) and attachments is not None:
                    file_id = uuid.UUID(m.group(1))
                    files.append(file_id)
                    return f"\0file:{file_id}\0"
                return None

            content = rewrite_links(node.content, resolve)
            for file_id in files:
                if file_id not in stored:
                    stored[file_id] = await _export_file(
                        attachments, session, workspace_id, zf, file_id
                    )
                where = stored[file_id]
                marker = f"\0file:{file_id}\0"
                if where is None:  # not found: keep the original link
                    content = content.replace(marker, f"/api/files/{file_id}")
                else:
                    rel = posixpath.relpath(where, folder or ".")
                    content = content.replace(marker, quote_path(rel))
            zf.writestr(node.path, content)
            if progress:
                progress(done, len(nodes))
        titles = {node.path: node.title for node in nodes if stem(node.path) != node.title}
        if titles:
            zf.writestr(TITLES_FILE, json.dumps(titles, ensure_ascii=False, indent=1))
    return len(nodes)


async def _export_file(
    attachments: Attachments | None,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    zf: zipfile.ZipFile,
    file_id: uuid.UUID,
) -> str | None:
    if attachments is None:
        return None
    try:
        found = await attachments.read(session, workspace_id, file_id)
    except Exception:
        log.exception("attachment %s could not be read for the export", file_id)
        return None
    if found is None:
        return None
    name, data = found
    path = f"{ATTACHMENTS_DIR}/{file_id}-{safe_name(name, 80)}"
    zf.writestr(path, data)
    return path


def spooled_export() -> tempfile.SpooledTemporaryFile[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
