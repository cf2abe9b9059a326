"""Export of a workspace as a zip of Markdown files, and import of Markdown files and zips.

Export layout: every document is ``Title.md``; a document with children also has a folder
``Title/`` holding them. Links between documents become relative links between the files,
and attachments (``/api/files/{id}``) are written under ``_attachments/`` when a storage
backend is available (``Services.attachments``), so the export works outside MDReader.

Import reads the same layout back (and any tree of ``.md`` files): ``A.md`` plus ``A/``
make one document with children, a folder without a ``.md`` of its name becomes an empty
document, relative links to other imported files become links to the new documents, and
images and other files are stored as attachments when storage exists (skipped otherwise).
A hostile archive (paths escaping the tree, absolute paths, symlinks, zip bombs, too many
or too large entries) is refused with a 4xx before anything is written, and the documents
are created in the caller's transaction: all or nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import posixpath
import re
import stat
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader import storable
from mdreader.db.models import Document, DocumentUpdate, DocumentVersion, SearchDocument
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import documents as docs
from mdreader.services.links import resolve_wikilinks

if TYPE_CHECKING:
    from mdreader.context import Services
    from mdreader.settings import Settings

log = logging.getLogger("mdreader.transfer")

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".txt")
ATTACHMENTS_DIR = "_attachments"
# Titles that a file name cannot hold (`:` `/` `?`, emoji on some systems...), by the path of
# their file in the archive: an export writes it, an import reads it back.
TITLES_FILE = "_titles.json"
IMPORT_BATCH = 500
DOCUMENT_LINK = re.compile(
    r"^/(?:d|doc|documents|api/documents)/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})"
    r"/?([#?].*)?$"
)
FILE_LINK = re.compile(
    r"^/api/files/([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/?(?:[#?].*)?$"
)
# Link targets in Markdown: inline links and images, reference definitions, HTML src/href.
_INLINE = re.compile(r"(!?\[[^\]\n]*\]\(\s*)(<[^>\n]*>|[^)\s]+)")
_REFERENCE = re.compile(r"^( {0,3}\[[^\]\n]+\]:[ \t]*)(<[^>\n]*>|\S+)", re.MULTILINE)
_HTML = re.compile(r"(\b(?:src|href)=\")([^\"\n]+)(?=\")")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}

Progress = Callable[[int, int], None]


class Attachments(Protocol):
    """Files referenced by documents, for export and import (a storage backend's adapter).

    Both work inside the caller's transaction, scoped to one workspace: an export never
    copies another workspace's file, and an import's file rows go with its documents."""

    async def read(
        self, session: AsyncSession, workspace_id: uuid.UUID, file_id: uuid.UUID
    ) -> tuple[str, bytes] | None:
        """The file's name and bytes, or None when the workspace has no such file."""

    async def save(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        user_id: uuid.UUID | None,
        name: str,
        data: bytes,
    ) -> tuple[uuid.UUID, str]:
        """Store a file; return its id and the URL documents use for it. Raise ``AppError``
        (413, 415) for a file the instance does not take: the import then skips it."""

    async def delete(self, workspace_id: uuid.UUID, file_id: uuid.UUID) -> None:
        """Remove the bytes of a file saved by an import that then failed."""


def stored_title(title: str) -> str:
    """The title an imported document gets: never empty, at most 500 characters."""
    return (title.strip() or "Untitled")[:500]


def rewrite_links(content: str, resolve: Callable[[str], str | None]) -> str:
    """Replace every link target ``t`` with ``resolve(t)`` when that is not None."""

    def sub(match: re.Match[str]) -> str:
        raw = match.group(2)
        target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
        new = resolve(target)
        if new is None:
            return match.group(0)
        if raw.startswith("<") or " " in new:
            new = f"<{new}>"
        return match.group(1) + new

    content = _INLINE.sub(sub, content)
    content = _REFERENCE.sub(sub, content)
    return _HTML.sub(sub, content)


def safe_name(title: str, limit: int = 120) -> str:
    """A file name that is valid on Linux, macOS and Windows, from a document title."""
    name = unicodedata.normalize("NFC", title)
    name = _UNSAFE_NAME.sub(" ", name)
    name = " ".join(name.split()).strip(" .")[:limit].strip(" .")
    if not name or name.lower() in _RESERVED:
        name = f"_{name}" if name else "Untitled"
    return name


def _quote_path(path: str) -> str:
    return "/".join(quote(part) for part in path.split("/"))


# --- export ---------------------------------------------------------------------------------


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
    attachments = services.attachments  # None: attachments are skipped
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
                    return _quote_path(rel) + (m.group(2) or "")
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
                    content = content.replace(marker, _quote_path(rel))
            zf.writestr(node.path, content)
            if progress:
                progress(done, len(nodes))
        titles = {node.path: node.title for node in nodes if _stem(node.path) != node.title}
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


# --- import ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportFile:
    path: str  # relative, "/"-separated, checked
    data: bytes


def _bad(detail: str) -> AppError:
    return AppError(400, detail, "bad_archive")


def _check_path(name: str) -> str | None:
    """The entry's safe relative path, None for entries to ignore, 400 for hostile ones."""
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise _bad(f"The archive holds an absolute path ({name!r}); paths must be relative.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if parts and re.match(r"^[A-Za-z]:", parts[0]):
        raise _bad(f"The archive holds an absolute path ({name!r}); paths must be relative.")
    if ".." in parts:
        raise _bad(f"The archive holds a path leaving its folder ({name!r}).")
    if not parts or path.endswith("/"):
        return None
    if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None  # metadata and hidden files: not part of the tree
    if any("\0" in p for p in parts):
        raise _bad(f"The archive holds an invalid file name ({name!r}).")
    return "/".join(parts)


def read_zip(source: IO[bytes] | bytes, settings: Settings) -> list[ImportFile]:
    """The files of a zip, every entry checked before any is decompressed."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _bad("The upload is not a readable zip archive.") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.import_max_files:
            raise AppError(
                413,
                f"The archive holds {len(infos)} entries; at most "
                f"{settings.import_max_files} are accepted.",
                "too_large",
            )
        total = 0
        wanted: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            path = _check_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise _bad(f"The archive holds a symbolic link ({info.filename!r}).")
            if path is None or info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise _bad(f"The archive entry {info.filename!r} is encrypted.")
            total += info.file_size
            if total > settings.import_max_uncompressed_bytes:
                raise AppError(
                    413,
                    f"The archive unpacks to more than {settings.import_max_uncompressed_bytes}"
                    " bytes.",
                    "too_large",
                )
            if info.file_size > 1024 and (
                info.file_size > settings.import_max_ratio * max(info.compress_size, 1)
            ):
                raise AppError(
                    413,
                    f"The archive entry {info.filename!r} is compressed more than "
                    f"{settings.import_max_ratio:g} to 1, which is refused as a zip bomb.",
                    "too_large",
                )
            wanted.append((info, path))
        files = []
        for info, path in wanted:
            try:
                with zf.open(info) as entry:
                    # Never trust the declared size: read at most one byte more than it.
                    data = entry.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, EOFError):
                raise _bad(f"The archive entry {info.filename!r} cannot be read.") from None
            if len(data) > info.file_size:
                raise _bad(f"The archive entry {info.filename!r} is larger than it says.")
            files.append(ImportFile(path, data))
    return files


def read_upload(name: str, source: IO[bytes], settings: Settings) -> list[ImportFile]:
    """One uploaded file: a zip is unpacked, a Markdown file is taken as it is."""
    base = posixpath.basename((name or "").replace("\\", "/"))
    head = source.read(4)
    source.seek(0)
    if base.lower().endswith(".zip") or head == b"PK\x03\x04":
        return read_zip(source, settings)
    if not base.lower().endswith(MARKDOWN_SUFFIXES):
        raise AppError(
            415, f"{base or 'The upload'} is neither a Markdown file nor a zip.", "bad_type"
        )
    checked = _check_path(base)
    if checked is None:
        raise _bad(f"{base!r} is not a usable file name.")
    data = source.read(settings.max_document_bytes + 1)
    return [ImportFile(checked, data)]


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


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


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
            raise _bad(f"Two files would become the same document: {f.path!r}.")
        if key in implicit:
            implicit.discard(key)
            item = planned[key]
            item.title, item.content, item.source = _stem(f.path), _decode(f.data), f.path
        else:
            planned[key] = _Planned(key, _stem(f.path), _decode(f.data), f.path)
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
    attachments = services.attachments  # None: attachments are skipped
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
