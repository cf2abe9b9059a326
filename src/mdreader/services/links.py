"""Links between documents.

A link by id, ``[Title](/d/<id>)`` (what the editor's ``[[`` completion writes), survives
any rename. ``[[Title]]`` typed by hand, or in imported files, points at the document of that
title in the same workspace (case-insensitive; the first in the tree when titles repeat);
import turns it into a link by id, so it too survives renames from then on.

Backlinks ("Linked from") are read from the stored texts, so they follow every change as
soon as it is compacted (seconds after typing stops).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import Document

WIKILINK = re.compile(r"\[\[([^\[\]\n|#]{1,500})\]\]")


@dataclass
class Backlink:
    id: uuid.UUID
    title: str
    snippet: str


def _snippet(content: str, needles: list[str]) -> str:
    lower = content.lower()
    for needle in needles:
        at = lower.find(needle.lower())
        if at >= 0:
            start = max(0, at - 60)
            return " ".join(content[start : at + len(needle) + 60].split())
    return ""


async def backlinks(session: AsyncSession, document: Document) -> list[Backlink]:
    """Documents of the workspace (not trashed) that link to ``document``: by id, or by its
    current title as ``[[Title]]``."""
    by_id = f"/d/{document.id}"
    by_title = f"[[{document.title}]]"
    escaped = by_title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(Document.id, Document.title, Document.content)
        .where(
            Document.workspace_id == document.workspace_id,
            Document.deleted_at.is_(None),
            Document.id != document.id,
            or_(
                Document.content.contains(by_id, autoescape=True),
                Document.content.ilike(f"%{escaped}%", escape="\\"),
            ),
        )
        .order_by(Document.title, Document.id)
    )
    return [Backlink(i, t, _snippet(c, [by_id, by_title])) for i, t, c in rows]


def resolve_wikilinks(content: str, titles: dict[str, uuid.UUID]) -> str:
    """``[[Title]]`` → ``[Title](/d/<id>)`` where ``titles`` (lower-cased) knows the title."""

    def replace(match: re.Match[str]) -> str:
        title = match.group(1).strip()
        target = titles.get(title.lower())
        return f"[{title}](/d/{target})" if target is not None else match.group(0)

    return WIKILINK.sub(replace, content)
