"""Comments on documents: threads (anchored to a range of the text, or about the whole
document), replies, edits, resolving and reopening.

A range is two Yjs relative positions made by the client (``Y.createRelativePositionFromTypeIndex``
on the ``content`` text, encoded with ``Y.encodeRelativePosition``): they name characters,
not offsets, so they follow every edit. When the text of the range is deleted the positions
collapse onto one place; the thread stays, and is presented as ``orphaned``.

Every change is committed first, then announced to the clients that have the document open
as a server event on the collaboration socket (``{"event": "comments", ...}``, a stateless
message); they read what changed over REST, where the policy decides what they may see.
Comments are never written through the socket.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.context import Services
from mdreader.db.engine import after_commit
from mdreader.db.models import Comment, Document, User
from mdreader.db.types import utcnow
from mdreader.errors import AppError
from mdreader.services import notifications
from mdreader.services.documents import pending_updates
from mdreader.ytext import TEXT_NAME, seed_content, seed_title

if TYPE_CHECKING:
    from pycrdt import Doc  # imported where used: see mdreader.ytext

BODY_MAX = 10_000  # characters of Markdown in one comment
QUOTE_MAX = 1_000
ANCHOR_MAX_BYTES = 256  # one encoded relative position is a few dozen bytes


@dataclass
class Anchor:
    start: bytes
    end: bytes
    quote: str


@dataclass
class Resolved:
    """Where a thread's anchor stands in the current text."""

    orphaned: bool
    start: int | None = None  # UTF-16 offsets, as Yjs clients and the browser count
    end: int | None = None


@dataclass
class Thread:
    comment: Comment
    replies: list[Comment] = field(default_factory=list)
    where: Resolved | None = None  # None: about the whole document


def check_body(body: str) -> str:
    if not body.strip():
        raise AppError(422, "A comment cannot be empty.", "empty_comment")
    if len(body) > BODY_MAX:
        raise AppError(
            422, f"A comment can hold at most {BODY_MAX} characters.", "comment_too_long"
        )
    return body


def _var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def relative_item(data: bytes) -> tuple[int, int] | None:
    """The (client, clock) a relative position in the ``content`` text names (None: its
    start or end), or ValueError when the bytes are not what ``Y.encodeRelativePosition``
    writes for it: an item (0, client, clock) or the root type by name (1, "content"), then
    the association. Read here so the Rust decoder only sees what it decodes (it panics on
    anything else)."""
    kind, pos = _var_uint(data, 0)
    item = None
    if kind == 0:  # an item: client, clock
        client, pos = _var_uint(data, pos)
        clock, pos = _var_uint(data, pos)
        if client >= 2**53 or clock >= 2**32:
            raise ValueError("out of range")
        item = (client, clock)
    elif kind == 1:  # the root type by name: only the text comments are about
        length, pos = _var_uint(data, pos)
        if data[pos : pos + length] != TEXT_NAME.encode():
            raise ValueError("another type")
        pos += length
    else:  # a nested type (2), or unknown
        raise ValueError("not the document's text")
    if pos >= len(data):
        raise ValueError("no association")
    assoc, pos = _var_uint(data, pos)  # a signed var int: 0 (after) or -1 (before)
    if assoc not in (0, 0x40 | 1) or pos != len(data):
        raise ValueError("bad association")
    return item


def check_anchor(start: bytes, end: bytes, quote: str) -> Anchor:
    """Both positions must be Yjs relative positions."""
    for value in (start, end):
        try:
            if not value or len(value) > ANCHOR_MAX_BYTES:
                raise ValueError("size")
            relative_item(value)
        except ValueError:
            raise AppError(
                422, "The anchor's positions are not Yjs relative positions.", "bad_anchor"
            ) from None
    return Anchor(start, end, quote[:QUOTE_MAX])


def _utf16(text: str, byte_offset: int) -> int:
    """pycrdt counts UTF-8 bytes; clients count UTF-16 units."""
    prefix = text.encode()[:byte_offset].decode(errors="ignore")
    return len(prefix.encode("utf-16-le")) // 2


def resolve(ydoc: Doc[Any], comment: Comment) -> Resolved | None:
    """Where the anchor of ``comment`` is now; orphaned when its text is gone."""
    from pycrdt import StickyIndex, Text

    if comment.anchor_start is None or comment.anchor_end is None:
        return None
    text = ydoc.get(TEXT_NAME, type=Text)
    known = _state_vector(ydoc.get_state())
    try:
        for value in (comment.anchor_start, comment.anchor_end):
            item = relative_item(value)
            if item is not None and item[1] >= known.get(item[0], 0):
                return Resolved(orphaned=True)  # text this document does not hold
        with ydoc.transaction() as txn:
            start = StickyIndex.decode(comment.anchor_start, text).get_index(txn)
            end = StickyIndex.decode(comment.anchor_end, text).get_index(txn)
    except ValueError:
        return Resolved(orphaned=True)
    except BaseException as exc:
        # pycrdt turns a Rust panic into pyo3's PanicException, a BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        return Resolved(orphaned=True)
    if end <= start:
        return Resolved(orphaned=True)
    plain = str(text)
    return Resolved(orphaned=False, start=_utf16(plain, start), end=_utf16(plain, end))


def _state_vector(encoded: bytes) -> dict[int, int]:
    count, pos = _var_uint(encoded, 0)
    out = {}
    for _ in range(count):
        client, pos = _var_uint(encoded, pos)
        clock, pos = _var_uint(encoded, pos)
        out[client] = clock
    return out


async def live_doc(session: AsyncSession, document_id: uuid.UUID) -> Doc[Any]:
    """The document as acknowledged, deleted items kept (skip_gc) so positions that name
    them still resolve (to where they were)."""
    from pycrdt import Doc, Text

    row = (
        await session.execute(
            select(Document.ystate, Document.title, Document.content).where(
                Document.id == document_id
            )
        )
    ).first()
    state = row.ystate if row is not None else b""
    ydoc: Doc[Any] = Doc(skip_gc=True)
    ydoc.get(TEXT_NAME, type=Text)
    for update in [state or b"", *await pending_updates(session, document_id)]:
        if update:
            ydoc.apply_update(update)
    if row is not None:  # the seed every server makes alike, which positions may name
        seed_title(ydoc, row.title, seed_content(state, row.content))
    return ydoc


async def threads(
    session: AsyncSession, document_id: uuid.UUID, status: str = "all"
) -> list[Thread]:
    """The document's threads, oldest first, each with its replies (oldest first)."""
    rows = list(
        await session.scalars(
            select(Comment)
            .where(Comment.document_id == document_id)
            .order_by(Comment.created_at, Comment.id)
        )
    )
    out: dict[uuid.UUID, Thread] = {}
    for c in rows:
        if c.parent_id is None:
            out[c.id] = Thread(c)
    for c in rows:
        if c.parent_id is not None and c.parent_id in out:
            out[c.parent_id].replies.append(c)
    chosen = [
        t
        for t in out.values()
        if status == "all" or (status == "resolved") == (t.comment.resolved_at is not None)
    ]
    if any(t.comment.anchor_start is not None for t in chosen):
        ydoc = await live_doc(session, document_id)
        for t in chosen:
            t.where = resolve(ydoc, t.comment)
    return chosen


async def thread(session: AsyncSession, document_id: uuid.UUID, thread_id: uuid.UUID) -> Thread:
    comment = await get(session, document_id, thread_id)
    if comment.parent_id is not None:
        comment = await get(session, document_id, comment.parent_id)
    replies = list(
        await session.scalars(
            select(Comment)
            .where(Comment.parent_id == comment.id)
            .order_by(Comment.created_at, Comment.id)
        )
    )
    where = None
    if comment.anchor_start is not None:
        where = resolve(await live_doc(session, document_id), comment)
    return Thread(comment, replies, where)


async def get(session: AsyncSession, document_id: uuid.UUID, comment_id: uuid.UUID) -> Comment:
    comment = await session.get(Comment, comment_id)
    if comment is None or comment.document_id != document_id:
        raise AppError(404, "Comment not found.", "not_found")
    return comment


async def names(session: AsyncSession, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {uid: name for uid, name in rows}


def announce(
    services: Services, session: AsyncSession, document_id: uuid.UUID, **what: object
) -> None:
    """Once committed, tell the open editors of the document (a server event)."""
    collab = services.collab
    payload = json.dumps({"event": "comments", "document_id": str(document_id), **what})
    after_commit(session, lambda: collab.publish_event(document_id, payload))


async def open_thread(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    author_id: uuid.UUID,
    body: str,
    anchor: Anchor | None,
) -> Comment:
    comment = Comment(
        id=uuid.uuid4(),
        document_id=document_id,
        author_id=author_id,
        body=check_body(body),
        body_html=await services.renderer.html(body),
        anchor_start=anchor.start if anchor else None,
        anchor_end=anchor.end if anchor else None,
        quote=anchor.quote if anchor else None,
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    await notifications.on_comment(
        services,
        session,
        workspace_id=workspace_id,
        document_id=document_id,
        comment_id=comment.id,
        author_id=author_id,
        body=body,
    )
    announce(services, session, document_id, kind="created", thread_id=str(comment.id))
    return comment


async def reply(
    services: Services,
    session: AsyncSession,
    workspace_id: uuid.UUID,
    parent: Comment,
    author_id: uuid.UUID,
    body: str,
) -> Comment:
    thread_id = parent.parent_id or parent.id  # a reply to a reply joins the same thread
    comment = Comment(
        id=uuid.uuid4(),
        document_id=parent.document_id,
        parent_id=thread_id,
        author_id=author_id,
        body=check_body(body),
        body_html=await services.renderer.html(body),
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    people = set(
        await session.scalars(
            select(Comment.author_id).where(
                (Comment.id == thread_id) | (Comment.parent_id == thread_id)
            )
        )
    )
    await notifications.on_comment(
        services,
        session,
        workspace_id=workspace_id,
        document_id=parent.document_id,
        comment_id=comment.id,
        author_id=author_id,
        body=body,
        thread_people={p for p in people if p is not None},
    )
    announce(
        services,
        session,
        parent.document_id,
        kind="replied",
        thread_id=str(thread_id),
        comment_id=str(comment.id),
    )
    return comment


async def edit(
    services: Services, session: AsyncSession, workspace_id: uuid.UUID, comment: Comment, body: str
) -> Comment:
    previous = comment.body
    comment.body = check_body(body)
    comment.body_html = await services.renderer.html(body)
    comment.edited_at = utcnow()
    await session.flush()
    assert comment.author_id is not None
    await notifications.on_comment(
        services,
        session,
        workspace_id=workspace_id,
        document_id=comment.document_id,
        comment_id=comment.id,
        author_id=comment.author_id,
        body=body,
        previous_body=previous,
    )
    announce(
        services,
        session,
        comment.document_id,
        kind="edited",
        thread_id=str(comment.parent_id or comment.id),
        comment_id=str(comment.id),
    )
    return comment


async def remove(services: Services, session: AsyncSession, comment: Comment) -> None:
    """A thread goes with its replies; a reply alone."""
    thread_id = comment.parent_id or comment.id
    if comment.parent_id is None:
        await session.execute(delete(Comment).where(Comment.parent_id == comment.id))
    await session.delete(comment)
    await session.flush()
    announce(
        services,
        session,
        comment.document_id,
        kind="deleted",
        thread_id=str(thread_id),
        comment_id=str(comment.id),
    )


async def set_resolved(
    services: Services,
    session: AsyncSession,
    comment: Comment,
    user_id: uuid.UUID,
    resolved: bool,
) -> Comment:
    if comment.parent_id is not None:
        raise AppError(
            422, "Only a thread is resolved or reopened, not one of its replies.", "not_a_thread"
        )
    now: datetime | None = utcnow() if resolved else None
    if (comment.resolved_at is not None) != resolved:
        comment.resolved_at = now
        comment.resolved_by = user_id if resolved else None
        await session.flush()
        announce(
            services,
            session,
            comment.document_id,
            kind="resolved" if resolved else "reopened",
            thread_id=str(comment.id),
        )
    return comment
