"""The WebSocket endpoints: ``/ws`` (Hocuspocus) and ``/ws/y/{document_id}`` (y-websocket).

Each socket gets a transport whose frames are written by one task from a bounded outbox, so a
slow reader never holds up a broadcast; the receive loop hands each frame to the core and
closes this socket alone when a frame is bad.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

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


class WebSocketTransport:
    def __init__(self, websocket: WebSocket, outbox_limit: int) -> None:
        self.websocket = websocket
        self.outbox = Outbox(outbox_limit)
        self.task = asyncio.create_task(self._write())
        self.last_sent = time.monotonic()

    def send(self, data: bytes) -> None:
        self.last_sent = time.monotonic()
        if not self.outbox.push(data):
            self.close(p.CLOSE_POLICY, "the client reads too slowly")

    def close(self, code: int, reason: str) -> None:
        self.outbox.request_close(code, reason)

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


async def _serve(server: CollabServer, websocket: WebSocket, sock: BaseSocket) -> None:
    limit = server.settings.collab_max_message_bytes
    transport = sock.transport
    assert isinstance(transport, WebSocketTransport)
    try:
        while transport.outbox.close_request is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.task, timeout=5)
        transport.task.cancel()


def _server(websocket: WebSocket) -> CollabServer | None:
    services = getattr(websocket.app.state, "services", None)
    return getattr(services, "collab", None)


async def _admit(websocket: WebSocket) -> CollabServer | None:
    server = _server(websocket)
    if server is None or server.full():
        await websocket.close(p.CLOSE_INTERNAL if server is None else 1013, "Try again later")
        return None
    await websocket.accept()
    return server


async def hocuspocus_endpoint(websocket: WebSocket) -> None:
    server = await _admit(websocket)
    if server is None:
        return
    transport = WebSocketTransport(websocket, server.settings.collab_outbox_bytes)
    sock = ClientSocket(server, transport)
    server.open_socket(sock)
    await _serve(server, websocket, sock)


async def ywebsocket_endpoint(websocket: WebSocket) -> None:
    server = await _admit(websocket)
    if server is None:
        return
    transport = WebSocketTransport(websocket, server.settings.collab_outbox_bytes)
    sock = YWebsocketSocket(server, transport)
    server.open_socket(sock)
    document_id = websocket.path_params["document_id"]
    if not await sock.open(document_id, websocket.query_params.get("token")):
        await server.close_socket(sock)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.task, timeout=5)
        return
    await _serve(server, websocket, sock)
