"""The WebSocket endpoints: ``/ws`` (Hocuspocus) and ``/ws/y/{document_id}`` (y-websocket).

Under ``mdreader serve`` a socket's frames bypass ASGI: the server protocol offers a frame
channel (the scope extension ``mdreader.frames``, see ``mdreader.serving``) whose ``send``
writes a frame at once, so a broadcast costs one write per receiver and no task; a receiver
whose unsent bytes pass ``MDREADER_COLLAB_OUTBOX_BYTES`` is closed. Under another ASGI server
frames go through Starlette, written by one task per socket from a bounded outbox. Either way
the receive loop hands each frame to the core and closes this socket alone when a frame is bad.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from mdreader.collab import protocol as p
from mdreader.collab.connection import (
    BaseSocket,
    ClientSocket,
    Outbox,
    SocketClosed,
    YWebsocketSocket,
)
from mdreader.collab.encoding import ProtocolError
from mdreader.collab.server import CollabServer

log = logging.getLogger("mdreader.collab")

FRAMES = "mdreader.frames"


class FrameChannel(Protocol):
    """What ``mdreader.serving.FrameChannel`` offers (collab does not import serving)."""

    def claim(self) -> None: ...
    async def receive(self) -> bytes | str | None: ...
    def send(self, data: bytes) -> int: ...
    def close(self, code: int, reason: str) -> None: ...


class ChannelTransport:
    """Frames written straight to the socket (module doc)."""

    def __init__(self, channel: FrameChannel, outbox_limit: int) -> None:
        self.channel = channel
        self.limit = outbox_limit
        self.closing = False
        self.last_sent = time.monotonic()

    def send(self, data: bytes) -> None:
        self.last_sent = time.monotonic()
        if self.channel.send(data) > self.limit:
            self.close(p.CLOSE_POLICY, "the client reads too slowly")

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.channel.close(code, reason)

    async def receive(self) -> bytes | str | None:
        return None if self.closing else await self.channel.receive()

    async def finish(self) -> None:
        return None


class WebSocketTransport:
    """Frames through Starlette, written by one task from a bounded outbox (module doc)."""

    def __init__(self, websocket: WebSocket, outbox_limit: int) -> None:
        self.websocket = websocket
        self.outbox = Outbox(outbox_limit)
        self.task = asyncio.create_task(self._write())
        self.last_sent = time.monotonic()

    @property
    def closing(self) -> bool:
        return self.outbox.close_request is not None

    def send(self, data: bytes) -> None:
        self.last_sent = time.monotonic()
        if not self.outbox.push(data):
            self.close(p.CLOSE_POLICY, "the client reads too slowly")

    def close(self, code: int, reason: str) -> None:
        self.outbox.request_close(code, reason)

    async def receive(self) -> bytes | str | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        return data if data is not None else message.get("text", "")

    async def finish(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, timeout=5)
        self.task.cancel()

    async def _write(self) -> None:
        ws = self.websocket
        outbox = self.outbox
        try:
            while True:
                await outbox.wake.wait()
                outbox.wake.clear()
                while outbox.frames:
                    frame = outbox.frames.popleft()
                    outbox.size -= len(frame)
                    await ws.send_bytes(frame)
                if outbox.close_request is not None:
                    code, reason = outbox.close_request
                    if ws.application_state == WebSocketState.CONNECTED:
                        await ws.close(code, reason)
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        except Exception:  # the peer vanished mid-send: the receive loop notices
            return


Transport = ChannelTransport | WebSocketTransport


async def _serve(server: CollabServer, sock: BaseSocket, transport: Transport) -> None:
    limit = server.settings.collab_max_message_bytes
    try:
        while not transport.closing:
            data = await transport.receive()
            if data is None:
                break
            if not isinstance(data, bytes):
                raise SocketClosed(p.CLOSE_INVALID_DATA, "only binary frames are accepted")
            if len(data) > limit:
                raise SocketClosed(p.CLOSE_TOO_BIG, "Message Too Big")
            await sock.handle(data)
    except SocketClosed as closed:
        transport.close(closed.code, closed.reason)
    except ProtocolError as exc:
        server.metrics.collab_rejected.inc()
        log.info("closing a collaboration socket: %s", exc)
        transport.close(p.CLOSE_INVALID_DATA, "Invalid message")
    except WebSocketDisconnect:
        pass
    except Exception:
        server.metrics.collab_rejected.inc()
        log.exception("closing a collaboration socket after an error")
        transport.close(p.CLOSE_INTERNAL, "Internal error")
    finally:
        await server.close_socket(sock)
        transport.close(p.CLOSE_NORMAL, "closed")
        await transport.finish()


def _server(websocket: WebSocket) -> CollabServer | None:
    services = getattr(websocket.app.state, "services", None)
    return getattr(services, "collab", None)


async def _admit(websocket: WebSocket) -> tuple[CollabServer, Transport] | None:
    server = _server(websocket)
    if server is None or server.full():
        await websocket.close(p.CLOSE_INTERNAL if server is None else 1013, "Try again later")
        return None
    limit = server.settings.collab_outbox_bytes
    channel: FrameChannel | None = websocket.scope.get("extensions", {}).get(FRAMES)
    if channel is not None:
        channel.claim()  # before the accept: no frame of the client can pass it by
    await websocket.accept()
    transport: Transport
    if channel is not None:
        transport = ChannelTransport(channel, limit)
    else:
        transport = WebSocketTransport(websocket, limit)
    return server, transport


async def hocuspocus_endpoint(websocket: WebSocket) -> None:
    admitted = await _admit(websocket)
    if admitted is None:
        return
    server, transport = admitted
    sock = ClientSocket(server, transport)
    server.open_socket(sock)
    await _serve(server, sock, transport)


async def ywebsocket_endpoint(websocket: WebSocket) -> None:
    admitted = await _admit(websocket)
    if admitted is None:
        return
    server, transport = admitted
    sock = YWebsocketSocket(server, transport)
    server.open_socket(sock)
    document_id = websocket.path_params["document_id"]
    if not await sock.open(document_id, websocket.query_params.get("token")):
        await server.close_socket(sock)
        await transport.finish()
        return
    await _serve(server, sock, transport)
