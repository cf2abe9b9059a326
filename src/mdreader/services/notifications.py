"""Mentions, follows and notifications.

A mention is ``@[Name](user:<id>)`` in a document's text or a comment (the editor's
completion writes it). It reaches the inbox of a member of the document's workspace, never
anyone else: a removed member is not notified, and their inbox no longer shows the
workspace's notifications.

Who follows a document: whoever created it, edited it or was mentioned in it (and whoever
commented on it). A comment notifies the document's followers (``comment``), a reply the
people in its thread (``reply``), a mention the person named (``mention``); one notification
per person and event, the strongest kind winning.

E-mail goes through the mail queue after commit: at once for mentions, in a digest every
``MDREADER_NOTIFICATION_DIGEST_INTERVAL`` seconds for the rest, as each person's
preferences allow. Every e-mail carries a link that unsubscribes without signing in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mdreader.db.models import (
    Document,
    DocumentFollow,
    Membership,
    Notification,
    NotificationSettings,
    User,
    Workspace,
)
from mdreader.db.types import utcnow
from mdreader.services.mail import send_after_commit

if TYPE_CHECKING:
    from mdreader.context import Backends, Services

log = logging.getLogger("mdreader.notifications")

MENTION = re.compile(r"@\[([^\]\n]{1,200})\]\(user:([0-9a-fA-F-]{36})\)")
Kind = Literal["mention", "reply", "comment"]
STRENGTH = {"mention": 3, "reply": 2, "comment": 1}
PREFERENCE = {"mention": "email_mentions", "reply": "email_replies", "comment": "email_comments"}
EXCERPT = 280


def mentioned_ids(text: str | None) -> set[uuid.UUID]:
    out = set()
    for match in MENTION.finditer(text or ""):
        with contextlib.suppress(ValueError):
            out.add(uuid.UUID(match.group(2)))
    return out


def excerpt(text: str) -> str:
    plain = MENTION.sub(lambda m: "@" + m.group(1), text)
    plain = " ".join(plain.split())
    return plain if len(plain) <= EXCERPT else plain[: EXCERPT - 1] + "…"


# --- follows --------------------------------------------------------------------------------


async def follow(
    session: AsyncSession, document_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> None:
    wanted = set(user_ids)
    if not wanted:
        return
    have = set(
        await session.scalars(
            select(DocumentFollow.user_id).where(
                DocumentFollow.document_id == document_id, DocumentFollow.user_id.in_(wanted)
            )
        )
    )
    for user_id in wanted - have:
        session.add(DocumentFollow(user_id=user_id, document_id=document_id, created_at=utcnow()))
    await session.flush()


async def unfollow(session: AsyncSession, document_id: uuid.UUID, user_id: uuid.UUID) -> None:
    row = await session.get(DocumentFollow, (user_id, document_id))
    if row is not None:
        await session.delete(row)


async def following(session: AsyncSession, document_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await session.get(DocumentFollow, (user_id, document_id)) is not None


async def members_among(
    session: AsyncSession, workspace_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    rows = await session.scalars(
        select(Membership.user_id).where(
            Membership.workspace_id == workspace_id, Membership.user_id.in_(wanted)
        )
    )
    return set(rows)


# --- making notifications -------------------------------------------------------------------


@dataclass
class Event:
    workspace_id: uuid.UUID
    document_id: uuid.UUID
    actor_id: uuid.UUID | None
    text: str
    comment_id: uuid.UUID | None = None


async def deliver(
    services: Backends, session: AsyncSession, event: Event, recipients: dict[uuid.UUID, Kind]
) -> list[Notification]:
    """One notification per member named in ``recipients`` (the actor never); mentions
    e-mailed now, the rest left for the digest."""
    recipients = {u: k for u, k in recipients.items() if u != event.actor_id}
    members = await members_among(session, event.workspace_id, recipients)
    if not members:
        return []
    prefs = await preferences_of(session, members)
    now = utcnow()
    made = []
    for user_id in members:
        kind = recipients[user_id]
        wants = getattr(prefs[user_id], PREFERENCE[kind])
        note = Notification(
            id=uuid.uuid4(),
            user_id=user_id,
            workspace_id=event.workspace_id,
            document_id=event.document_id,
            comment_id=event.comment_id,
            actor_id=event.actor_id,
            kind=kind,
            excerpt=excerpt(event.text),
            created_at=now,
            # Mentions go now; what nobody wants by e-mail is settled at once too.
            emailed_at=now if kind == "mention" or not wants else None,
        )
        session.add(note)
        made.append(note)
        if kind == "mention" and wants:
            await _mail_mention(services, session, note)
    await session.flush()
    return made


def _strongest(recipients: dict[uuid.UUID, Kind], users: Iterable[uuid.UUID], kind: Kind) -> None:
    for user_id in users:
        old = recipients.get(user_id)
        if old is None or STRENGTH[kind] > STRENGTH[old]:
            recipients[user_id] = kind


async def on_comment(
    services: Services,
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    comment_id: uuid.UUID,
    author_id: uuid.UUID,
    body: str,
    thread_people: Iterable[uuid.UUID] = (),
    previous_body: str | None = None,
) -> list[Notification]:
    """A comment was written (``previous_body``: edited; only its new mentions count)."""
    recipients: dict[uuid.UUID, Kind] = {}
    mentioned = mentioned_ids(body) - mentioned_ids(previous_body)
    if previous_body is None:
        followers = await session.scalars(
            select(DocumentFollow.user_id).where(DocumentFollow.document_id == document_id)
        )
        _strongest(recipients, followers, "comment")
        _strongest(recipients, thread_people, "reply")
        await follow(session, document_id, [author_id])
    _strongest(recipients, mentioned, "mention")
    await follow(session, document_id, await members_among(session, workspace_id, mentioned))
    event = Event(workspace_id, document_id, author_id, body, comment_id)
    return await deliver(services, session, event, recipients)


async def on_document_change(
    services: Backends,
    session: AsyncSession,
    document: Document,
    old_text: str,
    new_text: str,
    editors: Iterable[uuid.UUID | None],
) -> list[Notification]:
    """Compacted edits: the editors follow the document; people newly mentioned in it are
    notified and follow it too."""
    people = [e for e in editors if e is not None]
    await follow(session, document.id, await members_among(session, document.workspace_id, people))
    mentioned = mentioned_ids(new_text) - mentioned_ids(old_text)
    if not mentioned:
        return []
    members = await members_among(session, document.workspace_id, mentioned)
    await follow(session, document.id, members)
    actor = people[-1] if people else None
    line = next(
        (ln for ln in new_text.splitlines() if any(str(m) in ln.lower() for m in members)), ""
    )
    event = Event(document.workspace_id, document.id, actor, line or document.title)
    return await deliver(services, session, event, dict.fromkeys(members, "mention"))


# --- preferences and unsubscribing ----------------------------------------------------------


async def preferences_of(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, NotificationSettings]:
    ids = set(user_ids)
    rows = {
        r.user_id: r
        for r in await session.scalars(
            select(NotificationSettings).where(NotificationSettings.user_id.in_(ids))
        )
    }
    return {
        u: rows.get(u)
        or NotificationSettings(
            user_id=u, email_mentions=True, email_replies=True, email_comments=True
        )
        for u in ids
    }


async def set_preferences(
    session: AsyncSession, user_id: uuid.UUID, **values: bool
) -> NotificationSettings:
    row = await session.get(NotificationSettings, user_id)
    if row is None:
        row = NotificationSettings(
            user_id=user_id, email_mentions=True, email_replies=True, email_comments=True
        )
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    await session.flush()
    return row


UNSUBSCRIBE = {"mentions": ("email_mentions",), "digest": ("email_replies", "email_comments")}


def unsubscribe_token(services: Backends, user_id: uuid.UUID, what: str) -> str:
    return jwt.encode(
        {"sub": str(user_id), "purpose": "unsubscribe", "what": what},
        services.secret_key,
        algorithm="HS256",
    )


def read_unsubscribe_token(services: Services, token: str) -> tuple[uuid.UUID, str] | None:
    try:
        claims = jwt.decode(token, services.secret_key, algorithms=["HS256"])
        if claims.get("purpose") != "unsubscribe" or claims.get("what") not in UNSUBSCRIBE:
            return None
        return uuid.UUID(claims["sub"]), claims["what"]
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None


def unsubscribe_link(services: Backends, user_id: uuid.UUID, what: str) -> str:
    base = services.settings.public_url.rstrip("/")
    return (
        f"{base}/api/notifications/unsubscribe?token={unsubscribe_token(services, user_id, what)}"
    )


# --- e-mail ---------------------------------------------------------------------------------


def document_link(services: Backends, workspace_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"{services.settings.public_url.rstrip('/')}/w/{workspace_id}/d/{document_id}"


async def _mail_mention(services: Backends, session: AsyncSession, note: Notification) -> None:
    row = (
        await session.execute(
            select(User.email, Document.title, Workspace.name)
            .select_from(User)
            .join(Document, Document.id == note.document_id)
            .join(Workspace, Workspace.id == note.workspace_id)
            .where(User.id == note.user_id)
        )
    ).first()
    if row is None:
        return
    actor = await session.scalar(select(User.name).where(User.id == note.actor_id)) or "Someone"
    message = services.templates.render(
        "mention",
        row[0],
        actor=actor,
        document=row[1] or "Untitled",
        workspace=row[2],
        excerpt=note.excerpt,
        where="a comment on" if note.comment_id else "",
        link=document_link(services, note.workspace_id, note.document_id),
        unsubscribe=unsubscribe_link(services, note.user_id, "mentions"),
    )
    send_after_commit(services, session, message)


async def send_digests(services: Backends) -> int:
    """E-mail each person what waits for them (replies, comments) in one message; return how
    many notifications went out. Rows are claimed before sending, so two processes running
    this at once never send one twice."""
    sent = 0
    async with services.db.session() as session:
        pending = (
            await session.execute(
                select(Notification, User.email, Document.title, User.name)
                .join(User, User.id == Notification.user_id)
                .join(Document, Document.id == Notification.document_id)
                .join(
                    Membership,
                    (Membership.workspace_id == Notification.workspace_id)
                    & (Membership.user_id == Notification.user_id),
                )
                .where(Notification.emailed_at.is_(None), Document.deleted_at.is_(None))
                .order_by(Notification.created_at)
                .limit(5000)
            )
        ).all()
        by_user: dict[uuid.UUID, list[tuple[Notification, str, str]]] = defaultdict(list)
        emails: dict[uuid.UUID, str] = {}
        for note, email, title, _name in pending:
            by_user[note.user_id].append((note, title, email))
            emails[note.user_id] = email
        actors = dict(
            (
                await session.execute(
                    select(User.id, User.name).where(
                        User.id.in_({n.actor_id for n, *_ in pending if n.actor_id})
                    )
                )
            ).all()
        )
        now = utcnow()
        prefs = await preferences_of(session, by_user)
        for user_id, items in by_user.items():
            ids = [n.id for n, *_ in items]
            claimed = set(
                await session.scalars(
                    update(Notification)
                    .where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
                    .values(emailed_at=now)
                    .returning(Notification.id)
                )
            )
            lines = [
                {
                    "actor": actors.get(n.actor_id, "Someone") if n.actor_id else "Someone",
                    "what": "replied in your thread on" if n.kind == "reply" else "commented on",
                    "document": title or "Untitled",
                    "excerpt": n.excerpt,
                    "link": document_link(services, n.workspace_id, n.document_id),
                }
                for n, title, _ in items
                # Claimed either way: what the person turned off since is settled too.
                if n.id in claimed and getattr(prefs[user_id], PREFERENCE[n.kind])
            ]
            if not lines:
                continue
            message = services.templates.render(
                "digest",
                emails[user_id],
                count=len(lines),
                items=lines,
                unsubscribe=unsubscribe_link(services, user_id, "digest"),
            )
            send_after_commit(services, session, message)
            sent += len(lines)
    return sent


class Digest:
    """Sends the digests every ``interval`` seconds while the app runs (0: never)."""

    def __init__(self, services: Backends, interval: float) -> None:
        self.services = services
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Digest:
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="mdreader-digest")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await send_digests(self.services)
            except Exception:
                log.exception("sending notification digests failed; trying again later")


# --- the inbox ------------------------------------------------------------------------------


def _visible(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """Notifications of workspaces the user is still a member of, on documents not trashed."""
    return (
        select(Notification)
        .join(
            Membership,
            (Membership.workspace_id == Notification.workspace_id)
            & (Membership.user_id == user_id),
        )
        .join(Document, Document.id == Notification.document_id)
        .where(Notification.user_id == user_id, Document.deleted_at.is_(None))
    )


async def inbox(
    session: AsyncSession, user_id: uuid.UUID, *, unread_only: bool, limit: int, offset: int
) -> list[tuple[Notification, str, str | None]]:
    stmt = (
        _visible(user_id)
        .add_columns(Document.title, User.name)
        .outerjoin(User, User.id == Notification.actor_id)
        .order_by(Notification.created_at.desc(), Notification.id)
        .limit(limit)
        .offset(offset)
    )
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return [(n, t, a) for n, t, a in (await session.execute(stmt)).all()]


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    sub = _visible(user_id).where(Notification.read_at.is_(None)).subquery()
    return int(await session.scalar(select(func.count()).select_from(sub)) or 0)


async def mark_read(session: AsyncSession, user_id: uuid.UUID, note_id: uuid.UUID | None) -> int:
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if note_id is not None:
        stmt = stmt.where(Notification.id == note_id)
    result = await session.execute(stmt.values(read_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
