"""The collaboration server: a document registry, the hooks, and the background duties.

``CollabServer`` is an async context manager entered in the app's lifespan. It owns:

- the registry of open sockets (``open_socket`` / ``close_socket``, with the connection cap)
  and of live documents (one per name; concurrent opens share one load; the last connection
  leaving unloads it after a short delay);
- the ordered extensions (``extensions.py``) that authenticate, load, store and relay, run
  through their hooks;
- what arrives from other processes: it starts the bus with its own handlers;
- a watchdog that pings idle sockets and closes those past their deadlines;
- the periodic ``recheck`` hook that drops connections whose access was revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

from mdreader.collab import protocol as p
from mdreader.collab.connection import BaseSocket, DocumentConnection
from mdreader.collab.document import CrdtError, LiveDocument
from mdreader.collab.extensions import AuthContext, Extension, Hooks, Origin
from mdreader.collab.store import read_document

if TYPE_CHECKING:
    from mdreader.collab.bus import Bus
    from mdreader.context import Backends

log = logging.getLogger("mdreader.collab")


class StoreFailed(Exception):
    """A store hook failed: the update is not durable and must not be acknowledged."""


class CollabServer:
    def __init__(self, services: Backends, bus: Bus, extensions: list[Extension]) -> None:
        self.services = services
        self.settings = services.settings
        self.metrics = services.metrics
        self.bus = bus
        self.hooks = Hooks(extensions)
        self.documents: dict[str, LiveDocument] = {}
        self._loading: dict[str, asyncio.Task[LiveDocument]] = {}
        self.sockets: set[BaseSocket] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> CollabServer:
        await self.bus.start(self._from_bus, self._resync_all)
        self._tasks.append(asyncio.create_task(self._watchdog(), name="collab-watchdog"))
        if self.hooks.has("recheck"):
            self._tasks.append(asyncio.create_task(self._recheck_loop(), name="collab-recheck"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sock in list(self.sockets):
            sock.transport.close(p.CLOSE_NORMAL, "server shutting down")
        for doc in list(self.documents.values()):
            if doc.unload_task is not None:
                doc.unload_task.cancel()
            await self._unload(doc)

    # -- sockets -------------------------------------------------------------------------
    def full(self) -> bool:
        """Whether the process holds as many sockets as it may."""
        return len(self.sockets) >= self.settings.collab_max_connections

    def open_socket(self, sock: BaseSocket) -> None:
        self.sockets.add(sock)
        self.metrics.collab_connections.inc()

    async def close_socket(self, sock: BaseSocket) -> None:
        """The socket ended: forget it and detach its document connections."""
        if sock in self.sockets:
            self.sockets.discard(sock)
            self.metrics.collab_connections.dec()
        await sock.closed()

    # -- documents -----------------------------------------------------------------------
    async def acquire(self, name: str, document_id: uuid.UUID) -> LiveDocument:
        doc = self.documents.get(name)
        if doc is not None and not doc.broken:
            if doc.unload_task is not None:
                doc.unload_task.cancel()
                doc.unload_task = None
            await doc.loaded.wait()
            return doc
        task = self._loading.get(name)
        if task is None:
            task = asyncio.create_task(self._load(name, document_id))
            self._loading[name] = task
            task.add_done_callback(lambda _t: self._loading.pop(name, None))
        return await asyncio.shield(task)

    async def _load(self, name: str, document_id: uuid.UUID) -> LiveDocument:
        doc = LiveDocument(name, document_id, self.settings.collab_max_awareness_bytes)
        self.documents[name] = doc
        try:
            await self.hooks.load(doc)
        except BaseException:
            self.documents.pop(name, None)
            with contextlib.suppress(Exception):
                await self.hooks.unload(doc)
            raise
        doc.measure()  # the load may have seeded text straight into the Yjs document
        doc.loaded.set()
        backlog, doc.backlog = doc.backlog, []
        for kind, data in backlog:
            await self.from_bus(doc, kind, data)
        self.metrics.collab_documents.set(len(self.documents))
        return doc

    def get(self, name: str) -> LiveDocument | None:
        return self.documents.get(name)

    async def attach(
        self, socket: BaseSocket, auth: AuthContext, address: bytes, acks: bool
    ) -> DocumentConnection | None:
        assert auth.document_id is not None
        try:
            doc = await self.acquire(auth.document_name, auth.document_id)
        except Exception:
            log.exception("loading document %s failed", auth.document_name)
            return None
        conn = DocumentConnection(socket, doc, auth, address, acks)
        doc.connections.add(conn)
        states = doc.awareness.encode_all()
        if states is not None:
            conn.send(p.awareness(states))
        return conn

    async def detach(self, conn: DocumentConnection) -> None:
        if conn.closed:
            return
        conn.closed = True
        doc = conn.doc
        doc.connections.discard(conn)
        if conn.awareness_clients:
            removal = doc.awareness.remove(conn.awareness_clients, owner=conn)
            if removal is not None:
                await self.hooks.awareness(doc, removal, conn.origin)
        if not doc.connections and doc.unload_task is None:
            doc.unload_task = asyncio.create_task(self._unload_later(doc))

    async def _unload_later(self, doc: LiveDocument) -> None:
        await asyncio.sleep(self.settings.collab_unload_delay)
        if doc.connections:
            doc.unload_task = None
            return
        await self._unload(doc)

    async def _unload(self, doc: LiveDocument) -> None:
        if self.documents.get(doc.name) is doc:
            del self.documents[doc.name]
        try:
            await self.hooks.unload(doc)
        except Exception:
            log.exception("unloading document %s failed", doc.name)
        self.metrics.collab_documents.set(len(self.documents))

    async def reset(self, doc: LiveDocument, reason: str) -> None:
        """Forget a document whose memory may differ from the database: close its
        connections (clients reconnect and re-sync what was not acknowledged)."""
        log.warning("resetting document %s: %s", doc.name, reason)
        doc.broken = True
        for conn in list(doc.connections):
            await conn.socket.drop(conn, reason="reset")
            conn.socket.transport.close(p.CLOSE_RESET, "Reset Connection")
        if self.documents.get(doc.name) is doc:
            if doc.unload_task is not None:
                doc.unload_task.cancel()
                doc.unload_task = None
            await self._unload(doc)

    # -- updates -------------------------------------------------------------------------
    async def receive_update(self, conn: DocumentConnection, update: bytes) -> bool:
        """A client's update; True once it is durable (acknowledge), False if refused."""
        doc = conn.doc
        if conn.read_only:
            return doc.contains(update)
        if len(update) > self.settings.collab_max_message_bytes:
            return False
        if not doc.fits(update, self.settings.max_document_bytes):
            conn.refuse_too_large(self.settings.max_document_bytes)
            return False
        started = time.perf_counter()
        try:
            changed = doc.apply(update)
        except CrdtError:
            if doc.broken:
                await self.reset(doc, "an update broke the document state")
            raise
        try:
            if changed:
                await self.hooks.store(doc, update, conn.origin)
            else:
                await self.hooks.barrier(doc)
        except Exception:
            log.exception("storing an update of %s failed", doc.name)
            await self.reset(doc, "an update could not be stored")
            return False
        if changed:
            self.metrics.collab_updates.inc()
            await self.hooks.change(doc, update, conn.origin)
        self.metrics.collab_ack_seconds.observe(time.perf_counter() - started)
        return True

    async def external_update(self, document_id: uuid.UUID, update: bytes) -> None:
        """An update already made durable elsewhere in this process (a REST write)."""
        name = str(document_id)
        doc = self.documents.get(name)
        origin = Origin("rest")
        if doc is None or not doc.loaded.is_set():
            await self.bus.publish(name, "update", update)
            return
        try:
            changed = doc.apply(update)
        except CrdtError:
            log.exception("a stored update of %s does not apply", name)
            return
        if changed:
            await self.hooks.change(doc, update, origin)

    async def _from_bus(self, document: str, kind: str, data: bytes) -> None:
        doc = self.documents.get(document)
        if doc is not None:
            await self.from_bus(doc, kind, data)

    async def _resync_all(self) -> None:
        """The bus is back after an outage: what it did not carry is in the database."""
        for doc in list(self.documents.values()):
            if doc.loaded.is_set():
                await self.resync(doc, await read_document(self.services, doc.id))

    async def from_bus(self, doc: LiveDocument, kind: str, data: bytes) -> None:
        """An update or awareness change published by another process."""
        if not doc.loaded.is_set():
            doc.backlog.append((kind, data))
            return
        origin = Origin("bus")
        try:
            if kind == "update":
                if doc.apply(data):
                    await self.hooks.change(doc, data, origin)
            elif kind == "awareness":
                changed, _present, _removed = doc.awareness.apply(data)
                if changed is not None:
                    await self.hooks.awareness(doc, changed, origin)
            elif kind == "event":
                self._deliver_event(doc, data.decode())
            elif kind == "resync":
                await self.resync(doc, await read_document(self.services, doc.id))
            elif kind == "query-awareness":
                states = doc.awareness.encode_all()
                if states is not None:
                    await self.bus.publish(doc.name, "awareness", states)
        except Exception:
            log.exception("a message from the bus for %s was refused", doc.name)

    async def resync(self, doc: LiveDocument, updates: list[bytes]) -> None:
        """Apply what the database holds; relay to local clients what was missing."""
        origin = Origin("database")
        for update in updates:
            try:
                change = doc.apply_changes(update)
            except CrdtError:
                log.exception("a stored update of %s does not apply", doc.name)
                continue
            if change is not None:
                await self.hooks.change(doc, change, origin)

    async def receive_awareness(self, conn: DocumentConnection, update: bytes) -> None:
        doc = conn.doc
        changed, present, removed = doc.awareness.apply(update, conn, conn.auth.user_id)
        conn.awareness_clients |= present
        conn.awareness_clients -= removed
        if changed is not None:
            await self.hooks.awareness(doc, changed, conn.origin)

    def relay_stateless(self, conn: DocumentConnection, payload: str) -> None:
        if p.is_server_event(payload):
            return  # only the server speaks for the server (comments, notices)
        for other in list(conn.doc.connections):
            if other is not conn and other.acks:
                other.send(p.stateless(payload))

    async def publish_event(self, document_id: uuid.UUID, payload: str) -> None:
        """A server event (a stateless message, ``{"event": ...}``) for every Hocuspocus
        client that has the document open, in this process and, over the bus, in others.
        Sent after what it announces is committed; clients read the details over REST."""
        name = str(document_id)
        doc = self.documents.get(name)
        if doc is not None and doc.loaded.is_set():
            self._deliver_event(doc, payload)
        await self.bus.publish(name, "event", payload.encode())

    def _deliver_event(self, doc: LiveDocument, payload: str) -> None:
        if not p.is_server_event(payload):
            return
        frame = p.stateless(payload)
        for conn in list(doc.connections):
            if conn.acks and not conn.closed:
                conn.send(frame)

    def metrics_denied(self) -> None:
        self.metrics.collab_denied.inc()

    # -- background duties ---------------------------------------------------------------
    async def _watchdog(self) -> None:
        s = self.settings
        interval = max(0.05, min(s.collab_ping_interval, s.collab_auth_timeout) / 2)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for sock in list(self.sockets):
                unauthenticated = not sock.authenticated_once
                if (unauthenticated and now - sock.opened_at > s.collab_auth_timeout) or (
                    now - sock.last_received > s.collab_idle_timeout
                ):
                    sock.transport.close(p.CLOSE_TIMEOUT, "Connection Timeout")
                elif (
                    now - sock.last_received > s.collab_ping_interval
                    or now - sock.transport.last_sent > s.collab_ping_interval
                ):
                    sock.ping()
            for doc in list(self.documents.values()):
                stale = doc.awareness.outdated(s.collab_awareness_timeout)
                if stale:
                    removal = doc.awareness.remove(stale)
                    if removal is not None:
                        await self.hooks.awareness(doc, removal, Origin("server"))
                doc.awareness.forget_removed(s.collab_awareness_timeout * 4)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.collab_recheck_interval)
            try:
                await self.hooks.recheck(self)
            except Exception:
                log.exception("re-checking collaboration access failed")
