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
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from mdreader.access.address import in_networks
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


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """Holds the address slot of the HTTP connection it was upgraded from."""

    _slot: tuple[_Open, str] | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._slot = getattr(self.config, "mdreader_handover", None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._slot is not None:
            (open_connections, address), self._slot = self._slot, None
            open_connections.release(address)
        super().connection_lost(exc)


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
