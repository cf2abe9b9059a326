"""Server-side awareness of one document, with the semantics of y-protocols.

An entry is (client id, clock, JSON state); an incoming entry counts only when its clock is
newer than the one known (or equal with a null state, which removes the client). Only the
entries that counted are relayed, so duplicates and echoes between servers die here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from mdreader.collab.encoding import Decoder, ProtocolError, var_string, var_uint

_NULL = "null"


@dataclass(slots=True)
class _Entry:
    clock: int
    state: str  # the JSON text as received; "null" once removed
    updated: float  # monotonic seconds


class Awareness:
    def __init__(self, max_clients: int = 10_000, max_state_bytes: int = 64 * 1024) -> None:
        self._entries: dict[int, _Entry] = {}
        self.max_clients = max_clients
        self.max_state_bytes = max_state_bytes

    @property
    def states(self) -> dict[int, str]:
        return {c: e.state for c, e in self._entries.items() if e.state != _NULL}

    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.state != _NULL)

    def apply(self, update: bytes) -> tuple[bytes | None, set[int], set[int]]:
        """Apply an encoded awareness update.

        Returns the encoded entries that changed something (or None), the client ids that
        now have a state, and those that were removed.
        """
        decoder = Decoder(update)
        count = decoder.read_var_uint()
        if count > decoder.remaining():
            raise ProtocolError("the awareness update claims more entries than it holds")
        now = time.monotonic()
        changed: list[tuple[int, int, str]] = []
        present: set[int] = set()
        removed: set[int] = set()
        for _ in range(count):
            client = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            raw = decoder.read_var_bytes()
            if len(raw) > self.max_state_bytes:
                raise ProtocolError("an awareness state is too large")
            try:
                state = raw.decode("utf-8")
                json.loads(state)
            except ValueError:
                raise ProtocolError("an awareness state is not JSON") from None
            known = self._entries.get(client)
            current = known.clock if known else 0
            is_null = state.strip() == _NULL
            if current < clock or (
                current == clock and is_null and known is not None and known.state != _NULL
            ):
                if known is None and len(self._entries) >= self.max_clients:
                    continue
                self._entries[client] = _Entry(clock, _NULL if is_null else state, now)
                changed.append((client, clock, _NULL if is_null else state))
                if is_null:
                    removed.add(client)
                else:
                    present.add(client)
        if not changed:
            return None, present, removed
        return encode(changed), present, removed

    def encode_all(self) -> bytes | None:
        entries = [(c, e.clock, e.state) for c, e in self._entries.items() if e.state != _NULL]
        return encode(entries) if entries else None

    def remove(self, clients: set[int]) -> bytes | None:
        """Remove the clients (their socket left); the encoded removal to relay, if any."""
        changed = []
        now = time.monotonic()
        for client in clients:
            entry = self._entries.get(client)
            if entry is None or entry.state == _NULL:
                continue
            entry.clock += 1
            entry.state = _NULL
            entry.updated = now
            changed.append((client, entry.clock, _NULL))
        return encode(changed) if changed else None

    def outdated(self, timeout: float) -> set[int]:
        limit = time.monotonic() - timeout
        return {c for c, e in self._entries.items() if e.state != _NULL and e.updated < limit}

    def forget_removed(self, older_than: float) -> None:
        limit = time.monotonic() - older_than
        gone = [c for c, e in self._entries.items() if e.state == _NULL and e.updated < limit]
        for client in gone:
            del self._entries[client]


def encode(entries: list[tuple[int, int, str]]) -> bytes:
    out = bytearray(var_uint(len(entries)))
    for client, clock, state in entries:
        out += var_uint(client)
        out += var_uint(clock)
        out += var_string(state)
    return bytes(out)
