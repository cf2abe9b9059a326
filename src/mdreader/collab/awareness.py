"""Server-side awareness of one document, with the semantics of y-protocols.

An entry is (client id, clock, JSON state); an incoming entry counts only when its clock is
newer than the one known (or equal with a null state, which removes the client). Only the
entries that counted are relayed, so duplicates and echoes between servers die here.

Presence is one's own: a connection may set or clear only the entries it introduced (or
that its user's other connection did), never another person's, and at most
``MAX_PER_CONNECTION`` of them. Entries of others in what it sends (y-protocols clients echo
the states they know, and time out others locally) are dropped quietly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from mdreader.collab.encoding import Decoder, ProtocolError, var_string, var_uint

_NULL = "null"
MAX_PER_CONNECTION = 8  # client ids one connection may hold (a tab has one per document)


@dataclass(slots=True)
class _Entry:
    clock: int
    state: str  # the JSON text as received; "null" once removed
    updated: float  # monotonic seconds
    owner: object = None  # the connection that set it (None: another process, or ours)
    user: object = None  # that connection's user


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

    def apply(
        self, update: bytes, owner: object = None, user: object = None
    ) -> tuple[bytes | None, set[int], set[int]]:
        """Apply an encoded awareness update; from a connection (``owner``, of ``user``) only
        the entries that are its own (module doc), from elsewhere (None: another process)
        all of them.

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
            if owner is not None and not self._may_set(known, owner, user):
                continue
            current = known.clock if known else 0
            is_null = state.strip() == _NULL
            if current < clock or (
                current == clock and is_null and known is not None and known.state != _NULL
            ):
                if known is None and len(self._entries) >= self.max_clients:
                    continue
                self._entries[client] = _Entry(clock, _NULL if is_null else state, now, owner, user)
                changed.append((client, clock, _NULL if is_null else state))
                if is_null:
                    removed.add(client)
                else:
                    present.add(client)
        if not changed:
            return None, present, removed
        return encode(changed), present, removed

    def _may_set(self, known: _Entry | None, owner: object, user: object) -> bool:
        if known is not None and known.owner is owner:
            return True
        # Someone's live presence: only that person's own connections may change it.
        if (
            known is not None
            and known.state != _NULL
            and (known.user is None or known.user != user)
        ):
            return False
        held = sum(1 for e in self._entries.values() if e.owner is owner and e.state != _NULL)
        return held < MAX_PER_CONNECTION

    def encode_all(self) -> bytes | None:
        entries = [(c, e.clock, e.state) for c, e in self._entries.items() if e.state != _NULL]
        return encode(entries) if entries else None

    def remove(self, clients: set[int], owner: object = None) -> bytes | None:
        """Remove the clients (their socket left; with ``owner``, only the entries it still
        holds); the encoded removal to relay, if any."""
        changed = []
        now = time.monotonic()
        for client in clients:
            entry = self._entries.get(client)
            if entry is None or entry.state == _NULL:
                continue
            if owner is not None and entry.owner is not owner:
                continue  # taken over by another connection of the same user
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
