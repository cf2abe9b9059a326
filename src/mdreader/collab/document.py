"""One live document: the Yjs state (pycrdt), its awareness and its connections."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from mdreader.collab.awareness import Awareness
from mdreader.collab.encoding import ProtocolError, read_state_vector
from mdreader.ytext import TEXT_NAME, TITLE_NAME, pending_part

if TYPE_CHECKING:
    from pycrdt import Doc, Text  # imported where used: see mdreader.ytext

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


_NOTHING = b"\x00\x00"  # an update with no structs and an empty delete set


def update_state_vector(update: bytes) -> dict[int, int]:
    """Decode the update fully (validating it) and return the clocks it reaches."""
    from pycrdt import get_state

    try:
        return read_state_vector(get_state(update))
    except BaseException as exc:
        raise _guard(exc) from None


class LiveDocument:
    def __init__(self, name: str, document_id: uuid.UUID, max_awareness_bytes: int) -> None:
        from pycrdt import Doc, Text

        self.name = name
        self.id = document_id
        self.ydoc: Doc[Any] = Doc()
        self.content: Text = self.ydoc.get(TEXT_NAME, type=Text)
        self.ydoc.get(TITLE_NAME, type=Text)
        self.awareness = Awareness(max_state_bytes=max_awareness_bytes)
        self.connections: set[DocumentConnection] = set()
        self.loaded = asyncio.Event()
        self.broken = False
        self.backlog: list[tuple[str, bytes]] = []  # bus messages that arrived while loading
        self.unload_task: asyncio.Task[None] | None = None
        # Most the text can hold now, in UTF-8 bytes: measured now and then, and raised by
        # the size of every update applied since (none adds more text than it carries).
        self._size_bound = 0

    def _observed(self, update: bytes) -> list[bytes]:
        """Apply with a document observer: the changes it made (merged), empty when none.
        Only where those are needed: pycrdt's observer costs more than the update itself."""
        changes: list[bytes] = []
        subscription = self.ydoc.observe(lambda event: changes.append(bytes(event.update)))
        try:
            self._integrate(update)
        finally:
            self.ydoc.unobserve(subscription)
        return changes

    def _integrate(self, update: bytes) -> None:
        self._size_bound += len(update)
        try:
            self.ydoc.apply_update(update)
        except BaseException as exc:
            # The Rust side refused midway: this state can no longer be trusted.
            self.broken = True
            raise _guard(exc) from None

    def measure(self) -> None:
        """Take the text's size afresh (after a load that wrote to ``ydoc`` directly)."""
        self._size_bound = len(self.content)

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
        from pycrdt import Doc, Text

        if self._size_bound + len(update) <= limit:
            return True
        size = self._size_bound = len(self.content)  # pycrdt counts UTF-8 bytes
        if size + len(update) <= limit:
            return True
        probe: Doc[Any] = Doc()
        text = probe.get(TEXT_NAME, type=Text)
        try:
            probe.apply_update(self.ydoc.get_update())
            probe.apply_update(update)
        except BaseException as exc:
            raise _guard(exc) from None
        return len(text) <= limit

    def apply(self, update: bytes) -> bool:
        """Apply a (validated) update; True when it added anything, even if only pending.

        An update ending in an empty delete set (typing: its last byte is 0) is applied
        without an observer: it changed the document exactly when the state vector moved,
        or when something of it stays pending, which what is left of it past the new state
        vector shows (anything left but an empty delete set counts as a change: storing a
        repeat costs a log row, missing a change would lose it). Other updates are applied
        under an observer, which tells."""
        from pycrdt import get_update

        reaches = update_state_vector(update)
        if update[-1:] == b"\x00":
            before = self.ydoc.get_state()
            self._integrate(update)
            state_vector = self.ydoc.get_state()
            if state_vector != before:
                return True
            try:
                return get_update(update, state_vector) != _NOTHING
            except BaseException as exc:
                raise _guard(exc) from None
        if self._observed(update):
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
        changes = self._observed(update)
        return changes[0] if changes else None

    def contains(self, update: bytes) -> bool:
        """Whether applying ``update`` would change nothing (read-only clients' sync)."""
        from pycrdt import Doc, Text

        reaches = update_state_vector(update)
        known = read_state_vector(self.ydoc.get_state())
        if any(clock > known.get(client, 0) for client, clock in reaches.items()):
            return False
        probe: Doc[Any] = Doc()
        probe.get(TEXT_NAME, type=Text)
        changes: list[int] = []
        try:
            probe.apply_update(self.ydoc.get_update())
            probe.observe(lambda _e: changes.append(1))
            probe.apply_update(update)
        except BaseException as exc:
            raise _guard(exc) from None
        return not changes
