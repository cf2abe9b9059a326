"""How MDReader runs under uvicorn, so that slow or greedy clients cannot exhaust it.

uvicorn itself waits for ever for a client that connects and sends nothing, or sends its
headers or body a byte at a time. Its HTTP protocol is extended here with:

- a header timeout (``MDREADER_HEADER_TIMEOUT``): a request's headers must have arrived
  this many seconds after the connection opened, or after the first byte of the next
  request on a kept-alive connection; otherwise 408 and the connection is closed;
- a body timeout (``MDREADER_BODY_TIMEOUT``): while a body is still expected, this many
  seconds without a byte of it end the request with 408 (the timer restarts with every
  chunk, as nginx's ``client_body_timeout`` does);
- a cap on open connections per client address (``MDREADER_MAX_CONNECTIONS_PER_ADDRESS``,
  per process, WebSockets included): one more is answered 429 and closed. Addresses in
  ``MDREADER_TRUSTED_PROXIES`` are exempt: behind a load balancer every client arrives from
  it, and the proxy in front (with its own limits and the WAF) is where they are told apart.

``raise_open_files_limit`` lifts the soft limit on open files to the hard one at start-up,
since every connection is a file descriptor.

Upgraded WebSockets also offer the app their frames without ASGI (``FrameChannel``, the scope
extension ``mdreader.frames``): the collaboration server exchanges thousands of small frames
a second, and a frame through the ASGI queue, the middleware stack and websockets' framing
costs several times what the frame itself does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from mdreader.api.deps import _in_networks as in_networks
from mdreader.settings import Settings

log = logging.getLogger("mdreader.serving")


@dataclass(frozen=True)
class ServingLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    per_address: int = 256  # 0: no cap
    exempt: tuple[str, ...] = ()  # networks whose connections are not capped (proxies)

    @classmethod
    def of(cls, settings: Settings) -> ServingLimits:
        return cls(
            settings.header_timeout,
            settings.body_timeout,
            settings.max_connections_per_address,
            tuple(settings.trusted_proxies),
        )

    def capped(self, address: str) -> bool:
        return self.per_address > 0 and not in_networks(address, list(self.exempt))


@dataclass
class _Open:
    """Open connections by address, in one server process."""

    counts: Counter[str] = field(default_factory=Counter)

    def release(self, address: str) -> None:
        self.counts[address] -= 1
        if self.counts[address] <= 0:
            del self.counts[address]


def _open_connections(server_state: Any) -> _Open:
    found = getattr(server_state, "mdreader_open", None)
    if found is None:
        found = _Open()
        server_state.mdreader_open = found
    return found


def _response(status: int, reason: str, detail: str, code: str, extra: str = "") -> bytes:
    body = json.dumps({"detail": detail, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header and body timeouts and the per-address
    cap (module doc)."""

    _timer: asyncio.TimerHandle | None = None
    _address: str | None = None  # set while this protocol holds a slot of its address

    @property
    def _limits(self) -> ServingLimits | None:
        return getattr(self.config, "mdreader_limits", None)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self._limits
        if limits is None:
            return
        peer = get_remote_addr(transport)
        address = peer[0] if peer else ""
        if limits.capped(address):
            counts = _open_connections(self.server_state).counts
            if counts[address] >= limits.per_address:
                log.warning("connection from %s refused: %d already open", address, counts[address])
                transport.write(
                    _response(
                        429,
                        "Too Many Requests",
                        "Too many open connections from your address. Close some and retry.",
                        "too_many_connections",
                        "retry-after: 5\r\n",
                    )
                )
                transport.close()
                return
            counts[address] += 1
            self._address = address
        self._arm(limits.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release()
        super().connection_lost(exc)

    def _release(self) -> None:
        if self._address is not None:
            _open_connections(self.server_state).release(self._address)
            self._address = None

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        if delay > 0:
            self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        limits = self._limits
        if limits is not None and self._timer is None:
            self._arm(limits.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        limits = self._limits
        if limits is not None and self._expects_body():
            self._arm(limits.body_timeout, self._body_late)

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        limits = self._limits
        if limits is not None and self._timer is not None:
            self._arm(limits.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes over the transport, and with it this address's slot.
        self._disarm()
        address, self._address = self._address, None
        config: Any = self.config  # our Config (below)
        if address is not None:
            config.mdreader_handover = (_open_connections(self.server_state), address)
        try:
            super().handle_websocket_upgrade()
        finally:
            config.mdreader_handover = None

    def _late(self, what: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        log.info("closing a connection from %s: %s", self._address or "?", what)
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(
                _response(408, "Request Timeout", f"The {what}.", "request_timeout")
            )
        self.transport.close()

    def _headers_late(self) -> None:
        self._late("request headers did not arrive in time")

    def _body_late(self) -> None:
        self._late("request body stopped arriving")


FRAMES = "mdreader.frames"  # the scope extension holding a connection's FrameChannel

# Frames queued for the app before the socket stops reading (TCP then holds the sender back).
_QUEUED_FRAMES = 64
_QUEUED_BYTES = 1 << 20


def _binary_header(size: int) -> bytes:
    """The head of an unmasked, final binary frame (RFC 6455 5.2: servers do not mask)."""
    if size < 126:
        return bytes((0x82, size))
    if size < 1 << 16:
        return struct.pack("!BBH", 0x82, 126, size)
    return struct.pack("!BBQ", 0x82, 127, size)


class FrameChannel:
    """The frames of one accepted WebSocket, straight from and to its protocol.

    Once ``claim``-ed (before the app accepts the socket), every data frame goes to
    ``receive`` instead of the ASGI queue; ``send`` writes a binary frame to the socket at
    once and returns the bytes the socket has not taken yet (-1 once it is closing), so the
    caller can drop a client that reads too slowly; ``close`` starts the closing handshake.
    Reading pauses while the app has many frames to handle, as uvicorn's does per frame.
    """

    def __init__(self, protocol: GuardedWebSocketProtocol) -> None:
        self._protocol = protocol
        self._frames: deque[bytes | str] = deque()
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self.claimed = False
        self.ended = False

    def claim(self) -> None:
        self.claimed = True

    def deliver(self, data: bytes | str) -> None:
        self._frames.append(data)
        self._size += len(data)
        self._wake()
        p = self._protocol
        if not p.read_paused and (
            len(self._frames) >= _QUEUED_FRAMES or self._size >= _QUEUED_BYTES
        ):
            p.read_paused = True
            p.transport.pause_reading()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> bytes | str | None:
        """The next data frame; None once the socket is closed or closing."""
        while not self._frames:
            if self.ended:
                return None
            self._waiter = self._protocol.loop.create_future()
            await self._waiter
        data = self._frames.popleft()
        self._size -= len(data)
        p = self._protocol
        if p.read_paused and not p.close_sent and len(self._frames) < _QUEUED_FRAMES // 2:
            p.read_paused = False
            p.transport.resume_reading()
        return data

    def send(self, data: bytes) -> int:
        p = self._protocol
        transport = p.transport
        if p.close_sent or p.disconnected or transport.is_closing():
            return -1
        transport.write(_binary_header(len(data)) + data)
        return transport.get_write_buffer_size()

    def close(self, code: int, reason: str) -> None:
        """Send a close frame (as uvicorn does for ``websocket.close``) and stop receiving."""
        p = self._protocol
        self.end()
        if p.close_sent or p.disconnected or p.transport.is_closing():
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        p.conn.send_close(code, reason)
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        p.close_timer = p.loop.call_later(p.close_timeout, p.transport.close)


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """Holds the address slot of the HTTP connection it was upgraded from, and offers the app
    its frames through a ``FrameChannel`` (module doc)."""

    _slot: tuple[_Open, str] | None = None
    channel: FrameChannel | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._slot = getattr(self.config, "mdreader_handover", None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._slot is not None:
            (open_connections, address), self._slot = self._slot, None
            open_connections.release(address)
        super().connection_lost(exc)
        if self.channel is not None:
            self.channel.end()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            self.channel = FrameChannel(self)
            scope["extensions"][FRAMES] = self.channel

    def send_receive_event_to_app(self) -> None:
        channel = self.channel
        if channel is None or not channel.claimed:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type == "text":
            channel.deliver(bytes(data).decode("utf-8", "replace"))
        else:
            channel.deliver(data if isinstance(data, bytes) else bytes(data))

    def handle_close(self, event: Any) -> None:
        super().handle_close(event)
        if self.channel is not None:
            self.channel.end()

    def handle_parser_exception(self) -> None:
        super().handle_parser_exception()
        if self.channel is not None:
            self.channel.end()


class Config(uvicorn.Config):
    """uvicorn's Config with MDReader's protocols and their limits (picklable, so that each
    worker process gets them)."""

    def __init__(self, app: Any, *, limits: ServingLimits, **kwargs: Any) -> None:
        kwargs.setdefault("http", GuardedHttpProtocol)
        kwargs.setdefault("ws", GuardedWebSocketProtocol)
        super().__init__(app, **kwargs)
        self.mdreader_limits = limits
        self.mdreader_handover: tuple[_Open, str] | None = None


def config(app: Any, settings: Settings, **kwargs: Any) -> Config:
    """The uvicorn configuration ``mdreader serve`` and the test server run with."""
    kwargs.setdefault("log_config", None)
    kwargs.setdefault("access_log", False)
    kwargs.setdefault("proxy_headers", False)  # addresses come from MDREADER_TRUSTED_PROXIES
    kwargs.setdefault("ws_max_size", settings.collab_max_message_bytes + 1024)
    # Yjs updates are small and binary: compressing every frame costs both ends more than
    # it saves (and Node's ws inflates through a small thread pool).
    kwargs.setdefault("ws_per_message_deflate", False)
    return Config(app, limits=ServingLimits.of(settings), **kwargs)


def raise_open_files_limit() -> tuple[int, int] | None:
    """Lift the soft limit on open files to the hard limit; (before, after), or None where
    the platform has no such limit. A container's hard limit is set by its runtime
    (``ulimits`` in compose, ``ulimits`` in an ECS task definition)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        log.warning("could not raise the open-files limit from %d to %d", soft, target)
        return soft, soft
    return soft, target
