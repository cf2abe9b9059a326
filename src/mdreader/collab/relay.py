"""Extensions that pass changes on: to the local sockets of a document, to other processes
over the bus, and into the metrics."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mdreader.collab import protocol as p
from mdreader.collab.extensions import Extension, Origin

if TYPE_CHECKING:
    from mdreader.collab.bus import Bus
    from mdreader.collab.connection import DocumentConnection
    from mdreader.collab.document import LiveDocument


class LocalBroadcast(Extension):
    """Every other connection of the document gets the update or the awareness change.

    Updates that become durable together (one group commit releases many) are merged into one
    update before they go out, so a busy document costs one frame per connection per batch
    rather than one per update; a connection never gets back what it sent itself.
    """

    priority = 60

    def __init__(self) -> None:
        self._pending: dict[LiveDocument, list[tuple[bytes, Origin]]] = {}

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        pending = self._pending.get(doc)
        if pending is None:
            self._pending[doc] = [(update, origin)]
            asyncio.get_running_loop().call_soon(self._flush, doc)
        else:
            pending.append((update, origin))

    def _flush(self, doc: LiveDocument) -> None:
        from pycrdt import merge_updates

        batch = self._pending.pop(doc, [])
        if len(batch) == 1:
            update, origin = batch[0]
            _send_all(doc, p.sync_update(update), origin)
            return
        try:
            merged = merge_updates(*(u for u, _ in batch))
        except Exception:  # pragma: no cover - stored updates always merge
            for update, origin in batch:
                _send_all(doc, p.sync_update(update), origin)
            return
        senders: dict[DocumentConnection, list[bytes]] = {}
        for update, origin in batch:
            if origin.connection is not None:
                senders.setdefault(origin.connection, []).append(update)
        everyone = p.sync_update(merged)
        cache: dict[bytes, bytes] = {}
        for conn in list(doc.connections):
            if conn.closed:
                continue
            own = senders.get(conn)
            if own is None:
                frame = cache.get(conn.address)
                if frame is None:
                    frame = cache[conn.address] = conn.address + everyone
                conn.send_raw(frame)
                continue
            others = [u for u, o in batch if o.connection is not conn]
            if others:
                rest = others[0] if len(others) == 1 else merge_updates(*others)
                conn.send(p.sync_update(rest))

    async def awareness(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        _send_all(doc, p.awareness(update), origin)


def _send_all(doc: LiveDocument, body: bytes, origin: Origin) -> None:
    cache: dict[bytes, bytes] = {}
    for conn in list(doc.connections):
        if conn is origin.connection or conn.closed:
            continue
        frame = cache.get(conn.address)
        if frame is None:
            frame = cache[conn.address] = conn.address + body
        conn.send_raw(frame)


class BusRelay(Extension):
    """Subscribes while a document is open and publishes what changed here (a client's
    update or presence, a REST write); what came from elsewhere is not sent back. Runs first
    on load so no message published during the database read is missed. What arrives from
    the bus goes to the server, which started the bus with its own handlers."""

    priority = 20

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def load(self, doc: LiveDocument) -> None:
        await self.bus.subscribe(doc.name)
        await self.bus.publish(doc.name, "query-awareness", b"")

    async def unload(self, doc: LiveDocument) -> None:
        await self.bus.unsubscribe(doc.name)

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        if origin.source in _PUBLISHED:
            await self.bus.publish(doc.name, "update", update)

    async def awareness(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        if origin.source in _PUBLISHED:
            await self.bus.publish(doc.name, "awareness", update)


_PUBLISHED = frozenset({"connection", "rest"})
