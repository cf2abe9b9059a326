"""One live document: the Yjs state (pycrdt), its awareness and its connections."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from pycrdt import Doc, Text, get_state

from mdreader.collab.awareness import Awareness
from mdreader.collab.encoding import ProtocolError, read_state_vector
from mdreader.ytext import TEXT_NAME, TITLE_NAME, pending_part

if TYPE_CHECKING:
    from mdreader.collab.connection import DocumentConnection

_FATAL = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class CrdtError(ProtocolError):
    """pycrdt refused (or panicked on) an update."""


def _guard(exc: BaseException) -> CrdtError:
    """pycrdt raises ValueError for bad input and pyo3's PanicException (a BaseException)
    when the Rust side panics; both become a CrdtError for the caller."""
    if isinstance(exc, _FATAL):
        raise exc
    return CrdtError(f"the update was refused: {str(exc)[:200]}")


def update_state_vector(update: bytes) -> dict[int, int]:
    """Decode the update fully (validating it) and return the clocks it reaches."""
    try:
        return read_state_vector(get_state(update))
    except BaseException as exc:
        raise _guard(exc) from None


class LiveDocument:
    def __init__(self, name: str, document_id: uuid.UUID, max_awareness_bytes: int) -> None:
        self.name = name
        self.id = document_id
        self.ydoc: Doc = Doc()
        self.content: Text = self.ydoc.get(TEXT_NAME, type=Text)
        self.ydoc.get(TITLE_NAME, type=Text)
        self.awareness = Awareness(max_state_bytes=max_awareness_bytes)
        self.connections: set[DocumentConnection] = set()
        self.loaded = asyncio.Event()
        self.broken = False
        self.backlog: list[tuple[str, bytes]] = []  # bus messages that arrived while loading
        self._changes: list[bytes] = []
        self._subscription = self.ydoc.observe(self._observe)
        self.unload_task: asyncio.Task[None] | None = None

    def _observe(self, event: object) -> None:
        self._changes.append(bytes(event.update))  # type: ignore[attr-defined]

    def text(self) -> str:
        return str(self.content)

    def state_vector(self) -> bytes:
        return self.ydoc.get_state()

    def diff(self, state_vector: bytes) -> bytes:
        try:
            read_state_vector(state_vector)
            return self.ydoc.get_update(state_vector)
        except BaseException as exc:
            raise _guard(exc) from None

    def fits(self, update: bytes, limit: int) -> bool:
        """Whether the text stays within ``limit`` UTF-8 bytes once ``update`` is applied.

        An update cannot add more text than it carries, so one that is small against the
        room left is let through at once; only near the limit is it tried on a copy."""
        size = len(self.content)  # pycrdt counts UTF-8 bytes
        if size + len(update) <= limit:
            return True
        probe: Doc = Doc()
        text = probe.get(TEXT_NAME, type=Text)
        try:
            probe.apply_update(self.ydoc.get_update())
            probe.apply_update(update)
        except BaseException as exc:
            raise _guard(exc) from None
        return len(text) <= limit

    def apply(self, update: bytes) -> bool:
        """Apply a (validated) update; True when it added anything, even if only pending."""
        reaches = update_state_vector(update)
        self._changes.clear()
        try:
            self.ydoc.apply_update(update)
        except BaseException as exc:
            # The Rust side refused midway: this state can no longer be trusted.
            self.broken = True
            raise _guard(exc) from None
        if self._changes:
            return True
        state_vector = self.ydoc.get_state()
        known = read_state_vector(state_vector)
        if any(clock > known.get(client, 0) for client, clock in reaches.items()):
            return True
        # Nothing visible: the update may still be kept aside, waiting for one it depends on
        # (its clocks start past ours, or it deletes what we lack). It must be stored too.
        return pending_part(update, state_vector) is not None

    def apply_changes(self, update: bytes) -> bytes | None:
        """Apply and return what was new (the merged change), for relaying resyncs."""
        self._changes.clear()
        try:
            self.ydoc.apply_update(update)
        except BaseException as exc:
            self.broken = True
            raise _guard(exc) from None
        if not self._changes:
            return None
        return self._changes[0]

    def contains(self, update: bytes) -> bool:
        """Whether applying ``update`` would change nothing (read-only clients' sync)."""
        reaches = update_state_vector(update)
        known = read_state_vector(self.ydoc.get_state())
        if any(clock > known.get(client, 0) for client, clock in reaches.items()):
            return False
        probe: Doc = Doc()
        probe.get(TEXT_NAME, type=Text)
        changes: list[int] = []
        try:
            probe.apply_update(self.ydoc.get_update())
            probe.observe(lambda _e: changes.append(1))
            probe.apply_update(update)
        except BaseException as exc:
            raise _guard(exc) from None
        return not changes
