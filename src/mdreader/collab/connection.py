"""Sockets and their document connections, independent of any web framework.

A ``Transport`` is whatever carries frames (a Starlette WebSocket in ``asgi.py``, a list in a
test). A ``ClientSocket`` speaks the Hocuspocus protocol: every frame names its document, so
one socket carries many documents, each through a ``DocumentConnection`` once its Auth message
was accepted. ``YWebsocketSocket`` speaks plain y-websocket: one document per socket, chosen
by the URL. Both hand every document message to the same ``DocumentConnection``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mdreader.collab import protocol as p
from mdreader.collab.encoding import Decoder, ProtocolError, var_string
from mdreader.collab.extensions import AuthContext, Denied, Origin
from mdreader.collab.protocol import MessageType, SyncType

if TYPE_CHECKING:
    from mdreader.collab.document import LiveDocument
    from mdreader.collab.server import CollabServer

log = logging.getLogger("mdreader.collab")


class Transport(Protocol):
    """Carries frames of one socket. ``send`` never blocks: it queues."""

    last_sent: float  # monotonic time of the last frame queued

    def send(self, data: bytes) -> None: ...
    def close(self, code: int, reason: str) -> None: ...


class SocketClosed(Exception):
    """The socket is closing: stop processing its frames."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DocumentConnection:
    """One socket's view of one document."""

    def __init__(
        self,
        socket: BaseSocket,
        doc: LiveDocument,
        auth: AuthContext,
        address: bytes,
        acks: bool,
    ) -> None:
        self.socket = socket
        self.doc = doc
        self.auth = auth
        self.address = address  # encoded document address; empty for y-websocket
        self.acks = acks  # Hocuspocus clients get SyncStatus, y-websocket ones do not
        self.awareness_clients: set[int] = set()
        self.origin = Origin("connection", self)
        self.closed = False

    @property
    def read_only(self) -> bool:
        return self.auth.read_only

    @property
    def server(self) -> CollabServer:
        return self.socket.server

    def send(self, body: bytes) -> None:
        if not self.closed:
            self.socket.transport.send(self.address + body)

    def send_raw(self, frame: bytes) -> None:
        """A frame already addressed for this connection's kind."""
        if not self.closed:
            self.socket.transport.send(frame)

    def refuse_too_large(self, limit: int) -> None:
        """An update that would take the text past ``limit`` bytes was refused (not stored,
        not acknowledged). A Hocuspocus client is told in a stateless message, and keeps the
        change; a y-websocket client, which has no such message, is disconnected."""
        detail = (
            f"This document has reached its size limit ({limit} bytes): the last change was "
            "not saved. Shorten the document to save again."
        )
        if self.acks:
            notice = {"type": "refused", "code": "too_large", "limit": limit, "detail": detail}
            self.send(p.stateless(json.dumps(notice)))
        else:
            self.socket.transport.close(p.CLOSE_TOO_LARGE, "Document Too Large")

    async def handle(self, message_type: int, decoder: Decoder) -> None:
        if message_type in (MessageType.SYNC, MessageType.SYNC_REPLY):
            await self._sync(decoder, reply_with_step1=message_type == MessageType.SYNC)
        elif message_type == MessageType.AWARENESS:
            await self.server.receive_awareness(self, decoder.read_var_bytes())
        elif message_type == MessageType.QUERY_AWARENESS:
            states = self.doc.awareness.encode_all()
            if states is not None:
                self.send(p.awareness(states))
        elif message_type == MessageType.STATELESS:
            payload = decoder.read_var_string()
            if not self.read_only:
                self.server.relay_stateless(self, payload)
        elif message_type == MessageType.CLOSE:
            await self.socket.drop(self, reason=None)
        elif message_type == MessageType.AUTH:
            if decoder.read_var_uint() != p.AuthType.TOKEN:
                raise ProtocolError("clients may only send tokens")
            await self.socket.refresh_token(self, decoder.read_var_string())
        else:
            raise ProtocolError(f"message type {message_type} is not accepted here")

    async def _sync(self, decoder: Decoder, reply_with_step1: bool) -> None:
        sync_type = decoder.read_var_uint()
        if sync_type == SyncType.STEP1:
            state_vector = decoder.read_var_bytes()
            self.send(p.sync_step2(self.doc.diff(state_vector)))
            if reply_with_step1 and self.acks:
                self.send(p.sync_step1(self.doc.state_vector()))
        elif sync_type in (SyncType.STEP2, SyncType.UPDATE):
            update = decoder.read_var_bytes()
            saved = await self.server.receive_update(self, update)
            if self.acks:
                self.send(p.sync_status(saved))
        else:
            raise ProtocolError(f"unknown sync message {sync_type}")


@dataclass
class _Pending:
    """A document named on a socket but not authenticated yet."""

    frames: list[bytes] = field(default_factory=list)
    size: int = 0


class BaseSocket(ABC):
    def __init__(self, server: CollabServer, transport: Transport) -> None:
        self.server = server
        self.transport = transport
        self.id = uuid.uuid4().hex
        self.opened_at = time.monotonic()
        self.last_received = self.opened_at
        self.authenticated_once = False
        self.connections: dict[str, DocumentConnection] = {}
        self.closing = False

    def fail(self, code: int, reason: str) -> SocketClosed:
        return SocketClosed(code, reason)

    def ping(self) -> None:
        """Something for a quiet client to receive (providers reconnect after 30 s of silence)."""
        self.transport.send(p.PING)

    async def drop(self, conn: DocumentConnection, reason: str | None) -> None:
        """End one document connection; ``reason`` is sent to the client as CLOSE."""
        for key, value in list(self.connections.items()):
            if value is conn:
                del self.connections[key]
        if reason is not None and not conn.closed and conn.acks:
            conn.send(p.close(reason))
        await self.server.detach(conn)

    async def refresh_token(self, conn: DocumentConnection, token: str) -> None:
        ctx = AuthContext(token=token, document_name=conn.auth.document_name)
        try:
            await self.server.hooks.authenticate(ctx)
        except Denied as denied:
            conn.send(p.permission_denied(denied.reason))
            await self.drop(conn, reason=denied.reason)
            return
        conn.auth = ctx

    async def closed(self) -> None:
        """The transport is gone: release every document connection."""
        self.closing = True
        for conn in list(self.connections.values()):
            await self.server.detach(conn)
        self.connections.clear()

    @abstractmethod
    async def handle(self, data: bytes) -> None:
        """One binary frame from the client."""


class ClientSocket(BaseSocket):
    """A socket speaking the Hocuspocus protocol (many documents, each by its address)."""

    def __init__(self, server: CollabServer, transport: Transport) -> None:
        super().__init__(server, transport)
        self.pending: dict[str, _Pending] = {}

    async def handle(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        if len(data) == 1 and data[0] in (MessageType.PING, MessageType.PONG):
            if data[0] == MessageType.PING:
                self.transport.send(p.PONG)
            return
        decoder = Decoder(data)
        address = decoder.read_var_string()
        message_type = decoder.read_var_uint()
        conn = self.connections.get(address)
        if conn is None:
            # Session-aware providers address "name\0session"; plain ones "name".
            name = address.split("\0", 1)[0]
            conn = self.connections.get(name) if name != address else None
        if conn is not None:
            await conn.handle(message_type, decoder)
            return
        await self._before_auth(address, message_type, decoder, data)

    async def _before_auth(
        self, address: str, message_type: int, decoder: Decoder, data: bytes
    ) -> None:
        limits = self.server.settings
        pending = self.pending.get(address)
        if pending is None:
            if len(self.pending) >= limits.collab_max_pending_documents:
                raise self.fail(p.CLOSE_RESET, "too many documents waiting for authentication")
            pending = self.pending[address] = _Pending()
        if message_type != MessageType.AUTH:
            total_frames = sum(len(q.frames) for q in self.pending.values())
            total_bytes = sum(q.size for q in self.pending.values())
            if (
                total_frames + 1 > limits.collab_max_preauth_messages
                or total_bytes + len(data) > limits.collab_max_preauth_bytes
            ):
                raise self.fail(p.CLOSE_RESET, "too much data before authentication")
            pending.frames.append(data)
            pending.size += len(data)
            return
        if decoder.read_var_uint() != p.AuthType.TOKEN:
            raise ProtocolError("clients may only send tokens")
        token = decoder.read_var_string()
        if decoder.has_content():
            decoder.read_var_string()  # the provider's version; nothing depends on it
        del self.pending[address]
        reply = var_string(address)
        name = address.split("\0", 1)[0]
        if len(self.connections) >= limits.collab_max_documents_per_socket:
            self.transport.send(reply + p.permission_denied("too many documents on one socket"))
            return
        ctx = AuthContext(token=token, document_name=name)
        try:
            await self.server.hooks.authenticate(ctx)
        except Denied as denied:
            self.server.metrics_denied()
            self.transport.send(reply + p.permission_denied(denied.reason))
            return
        if self.closing:
            return
        self.authenticated_once = True
        self.transport.send(reply + p.authenticated(ctx.read_only))
        conn = await self.server.attach(self, ctx, reply, acks=True)
        if conn is None:
            self.transport.send(reply + p.close("the document could not be loaded"))
            return
        self.connections[address] = conn
        for frame in pending.frames:
            await self.handle(frame)


class YWebsocketSocket(BaseSocket):
    """A plain y-websocket client: one document, named by the URL, token in the query."""

    def __init__(self, server: CollabServer, transport: Transport) -> None:
        super().__init__(server, transport)
        self.conn: DocumentConnection | None = None

    def ping(self) -> None:
        # y-websocket knows no Ping; a query for awareness is answered with the client's
        # states, which proves it alive and changes nothing.
        self.transport.send(p.query_awareness())

    async def open(self, document_name: str, token: str | None) -> bool:
        ctx = AuthContext(token=token or "", document_name=document_name)
        try:
            await self.server.hooks.authenticate(ctx)
        except Denied as denied:
            self.server.metrics_denied()
            self.transport.send(p.yws_permission_denied(denied.reason))
            self.transport.close(p.CLOSE_FORBIDDEN, "permission-denied")
            return False
        self.authenticated_once = True
        conn = await self.server.attach(self, ctx, b"", acks=False)
        if conn is None:
            self.transport.close(p.CLOSE_INTERNAL, "the document could not be loaded")
            return False
        self.conn = conn
        self.connections[document_name] = conn
        conn.send(p.sync_step1(conn.doc.state_vector()))
        return True

    async def handle(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        if self.conn is None or self.conn.closed:
            raise self.fail(p.CLOSE_FORBIDDEN, "permission-denied")
        decoder = Decoder(data)
        message_type = decoder.read_var_uint()
        if message_type == MessageType.AUTH:
            return  # y-websocket clients send no auth; ignore rather than fail
        if message_type not in (
            MessageType.SYNC,
            MessageType.AWARENESS,
            MessageType.QUERY_AWARENESS,
        ):
            raise ProtocolError(f"message type {message_type} is not accepted here")
        await self.conn.handle(message_type, decoder)


class Outbox:
    """A bounded queue of frames for one socket, drained by one writer task."""

    def __init__(self, limit_bytes: int) -> None:
        self.frames: deque[bytes] = deque()
        self.size = 0
        self.limit = limit_bytes
        self.wake = asyncio.Event()
        self.close_request: tuple[int, str] | None = None

    def push(self, frame: bytes) -> bool:
        if self.close_request is not None:
            return True
        self.frames.append(frame)
        self.size += len(frame)
        self.wake.set()
        return self.size <= self.limit

    def request_close(self, code: int, reason: str) -> None:
        if self.close_request is None:
            self.close_request = (code, reason)
        self.wake.set()
