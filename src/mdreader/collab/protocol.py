"""The messages of the Hocuspocus protocol (what ``@hocuspocus/provider`` 4.x speaks) and of
plain ``y-websocket``, built and parsed in one place.

Hocuspocus frames start with the document's address (its name, or ``name\\0session`` for
session-aware providers) followed by a message type; y-websocket frames start with the type.
Two frames have no address at all: a lone Ping (9) byte and a lone Pong (10) byte.
"""

from __future__ import annotations

import json
from enum import IntEnum

from mdreader.collab.encoding import var_bytes, var_string, var_uint


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3
    SYNC_REPLY = 4  # a Sync that must not be answered with another SyncStep1
    STATELESS = 5
    BROADCAST_STATELESS = 6  # server-internal in Hocuspocus; refused from clients
    CLOSE = 7
    SYNC_STATUS = 8
    PING = 9
    PONG = 10


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class AuthType(IntEnum):
    TOKEN = 0
    PERMISSION_DENIED = 1
    AUTHENTICATED = 2


PING = bytes([MessageType.PING])
PONG = bytes([MessageType.PONG])

# WebSocket close codes (shared with @hocuspocus/common)
CLOSE_NORMAL = 1000
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESET = 4205  # "Reset Connection"
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TIMEOUT = 4408
CLOSE_TOO_LARGE = 4413  # an update would take the text past MDREADER_MAX_DOCUMENT_BYTES

READ_WRITE = "read-write"
READ_ONLY = "readonly"
PERMISSION_DENIED = "permission-denied"


def sync_step1(state_vector: bytes) -> bytes:
    return var_uint(MessageType.SYNC) + var_uint(SyncType.STEP1) + var_bytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return var_uint(MessageType.SYNC) + var_uint(SyncType.STEP2) + var_bytes(update)


def sync_update(update: bytes) -> bytes:
    return var_uint(MessageType.SYNC) + var_uint(SyncType.UPDATE) + var_bytes(update)


def awareness(update: bytes) -> bytes:
    return var_uint(MessageType.AWARENESS) + var_bytes(update)


def query_awareness() -> bytes:
    return var_uint(MessageType.QUERY_AWARENESS)


def authenticated(read_only: bool) -> bytes:
    scope = READ_ONLY if read_only else READ_WRITE
    return var_uint(MessageType.AUTH) + var_uint(AuthType.AUTHENTICATED) + var_string(scope)


def permission_denied(reason: str = PERMISSION_DENIED) -> bytes:
    return var_uint(MessageType.AUTH) + var_uint(AuthType.PERMISSION_DENIED) + var_string(reason)


_SAVED = bytes([MessageType.SYNC_STATUS, 1])
_NOT_SAVED = bytes([MessageType.SYNC_STATUS, 0])


def sync_status(saved: bool) -> bytes:
    return _SAVED if saved else _NOT_SAVED


def stateless(payload: str) -> bytes:
    return var_uint(MessageType.STATELESS) + var_string(payload)


def is_server_event(payload: str) -> bool:
    """Is this stateless payload a server event (a JSON object with an ``event`` key)?
    Clients may relay stateless messages to each other, but never one that looks like this."""
    if not payload.lstrip().startswith("{"):
        return False
    try:
        value = json.loads(payload)
    except ValueError:
        return False
    return isinstance(value, dict) and "event" in value


def close(reason: str) -> bytes:
    return var_uint(MessageType.CLOSE) + var_string(reason)


def addressed(address: bytes, body: bytes) -> bytes:
    """A Hocuspocus frame: ``address`` is the already encoded document address."""
    return address + body


# y-websocket: the auth message of y-protocols (type 2, then 0 = permission denied)
def yws_permission_denied(reason: str = PERMISSION_DENIED) -> bytes:
    return var_uint(MessageType.AUTH) + var_uint(0) + var_string(reason)
