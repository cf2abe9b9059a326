"""The hook list of the collaboration server, defined once.

An extension overrides any of the hooks in ``HOOKS``; the server runs each hook over its
extensions in ascending ``priority``. Hooks:

- ``authenticate(ctx)``: decide who may open a document (raise ``Denied``), set read-only.
- ``load(doc)``: fill a freshly created live document (from the database; subscribe to the bus).
- ``store(doc, update, origin)``: make a client's update durable; an update is acknowledged
  only after every ``store`` hook returned.
- ``change(doc, update, origin)``: an update is durable and applied; relay it (local sockets,
  other processes, compaction, metrics).
- ``awareness(doc, update, origin)``: awareness entries that really changed; relay them.
- ``unload(doc)``: the last connection left; release what ``load`` took.
- ``barrier(doc)``: wait until every ``store`` of the document begun so far is durable (an
  update that changed nothing is acknowledged only after the ones it may repeat).
- ``recheck(server)``: decide again, now and then, whether open connections keep their access.

The server (``server.CollabServer``) owns the registry of documents and sockets and calls the
hooks; extensions get everything they need in their constructors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mdreader.collab.connection import DocumentConnection
    from mdreader.collab.document import LiveDocument
    from mdreader.collab.server import CollabServer
    from mdreader.policy import Role

HOOKS = ("authenticate", "load", "store", "change", "awareness", "unload", "barrier", "recheck")


class Denied(Exception):
    """Authentication or authorization failed; the client gets permission-denied."""

    def __init__(self, reason: str = "permission-denied") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class AuthContext:
    """What a connection presents (token, document) and what authentication decides."""

    token: str
    document_name: str
    document_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    role: Role | None = None
    read_only: bool = True
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an update or awareness change came from: a client's ``connection``; a ``rest``
    write of this process (already durable); another process over the ``bus``; the
    ``database`` (re-read after a bus outage); the ``server`` itself (presence timed out)."""

    source: Literal["connection", "rest", "bus", "database", "server"]
    connection: DocumentConnection | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.connection.auth.user_id if self.connection else None


class Extension:
    """Base class: every hook is a no-op until overridden."""

    priority: int = 100

    async def authenticate(self, ctx: AuthContext) -> None:
        return None

    async def load(self, doc: LiveDocument) -> None:
        return None

    async def store(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        return None

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        return None

    async def awareness(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        return None

    async def unload(self, doc: LiveDocument) -> None:
        return None

    async def barrier(self, doc: LiveDocument) -> None:
        return None

    async def recheck(self, server: CollabServer) -> None:
        return None


class Hooks:
    """Runs each hook over the extensions that override it, in priority order."""

    def __init__(self, extensions: list[Extension]) -> None:
        self.extensions = sorted(extensions, key=lambda e: e.priority)
        self._chains = {
            hook: [
                getattr(ext, hook)
                for ext in self.extensions
                if getattr(type(ext), hook) is not getattr(Extension, hook)
            ]
            for hook in HOOKS
        }

    async def authenticate(self, ctx: AuthContext) -> None:
        for fn in self._chains["authenticate"]:
            await fn(ctx)

    async def load(self, doc: LiveDocument) -> None:
        for fn in self._chains["load"]:
            await fn(doc)

    async def store(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        for fn in self._chains["store"]:
            await fn(doc, update, origin)

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        for fn in self._chains["change"]:
            await fn(doc, update, origin)

    async def awareness(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        for fn in self._chains["awareness"]:
            await fn(doc, update, origin)

    async def unload(self, doc: LiveDocument) -> None:
        for fn in self._chains["unload"]:
            await fn(doc)

    async def barrier(self, doc: LiveDocument) -> None:
        for fn in self._chains["barrier"]:
            await fn(doc)

    async def recheck(self, server: CollabServer) -> None:
        for fn in self._chains["recheck"]:
            await fn(server)

    def has(self, hook: str) -> bool:
        """Whether any extension overrides ``hook``."""
        return bool(self._chains[hook])
