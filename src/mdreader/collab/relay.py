"""Extensions that pass changes on: to the local sockets of a document, to other processes
over the bus, and into the metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mdreader.collab import protocol as p
from mdreader.collab.extensions import Extension, Origin
from mdreader.collab.store import read_document

if TYPE_CHECKING:
    from mdreader.collab.bus import Bus
    from mdreader.collab.document import LiveDocument
    from mdreader.collab.server import CollabServer


class LocalBroadcast(Extension):
    """Every other connection of the document gets the update or the awareness change."""

    priority = 60

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        _send_all(doc, p.sync_update(update), origin)

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
    """Subscribes while a document is open and publishes what did not come from the bus.
    Runs first on load so no message published during the database read is missed."""

    priority = 20

    def __init__(self, server_ref: list[CollabServer], bus: Bus) -> None:
        self._server = server_ref
        self.bus = bus

    async def load(self, doc: LiveDocument) -> None:
        await self.bus.subscribe(doc.name)
        await self.bus.publish(doc.name, "query-awareness", b"")

    async def unload(self, doc: LiveDocument) -> None:
        await self.bus.unsubscribe(doc.name)

    async def change(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        if origin.source != "bus":
            await self.bus.publish(doc.name, "update", update)

    async def awareness(self, doc: LiveDocument, update: bytes, origin: Origin) -> None:
        if origin.source != "bus":
            await self.bus.publish(doc.name, "awareness", update)

    async def handle(self, document: str, kind: str, data: bytes) -> None:
        server = self._server[0]
        doc = server.get(document)
        if doc is not None:
            await server.from_bus(doc, kind, data)

    async def resync(self) -> None:
        server = self._server[0]
        for doc in list(server.documents.values()):
            if doc.loaded.is_set():
                await server.resync(doc, await read_document(server.services, doc.id))
