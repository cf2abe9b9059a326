"""The layout an export writes and an import reads back: file names made from titles, the
titles file, the attachments folder, the links between documents and to attachments
(rewritten either way), and the storage adapter attachments go through."""

from __future__ import annotations

import posixpath
import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".txt")


ATTACHMENTS_DIR = "_attachments"


# Titles that a file name cannot hold (`:` `/` `?`, emoji on some systems...), by the path of
# their file in the archive: an export writes it, an import reads it back.
TITLES_FILE = "_titles.json"


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


def quote_path(path: str) -> str:
    return "/".join(quote(part) for part in path.split("/"))


def stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]
