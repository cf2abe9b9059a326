"""The Yjs document of a Markdown document (pycrdt): a ``Y.Text`` named ``content`` holds the
Markdown, another named ``title`` the title.

pycrdt indexes text by UTF-8 bytes while Yjs clients count UTF-16 units; edits computed on
Python strings are turned into byte offsets here, so they land where they belong whatever
the client's encoding.

The title entered the Yjs document after the first documents were written, so a stored state
may lack it. ``seed_title`` puts the stored title column in, always as the same update (the
same client id, clock and text), so that however many servers do it for the same document,
Yjs sees one insertion. Whether a document has its seed is told by that client id in the
state vector, not by an empty title (a title may be emptied on purpose). The column only
changes once the seed is durable (logged with the change, or compacted), so every server
seeds a document with the same text.

A document whose stored state is empty (an import, a new document: no Yjs state is written
until someone edits) is seeded the same way with its Markdown too: the seed's one update
inserts the title column, then the content column, by the seed's client. The content column
only changes when compaction stores a state (which holds the seed), so as long as the state
is empty every server and every reader builds the same seed, byte for byte; edits made on it
(logged by clients or by REST writes, which log the seed with them) land where they belong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

# pycrdt (a compiled extension, a twentieth of the Lambda handler's import) is imported by the
# functions that use it: many requests never touch a document's Yjs state.
if TYPE_CHECKING:
    from pycrdt import Doc, Text

TEXT_NAME = "content"
TITLE_NAME = "title"
# The client id of the seed: beyond 32 bits, so no Yjs client (a random uint32) has it.
SEED_CLIENT = 2**32
TITLE_MAX = 500  # the stored column's length
_FINE_DIFF_LIMIT = 4000  # beyond this many changed characters, replace the changed span


def make_doc(
    state: bytes = b"",
    updates: Iterable[bytes] = (),
    title: str | None = None,
    content: str = "",
) -> Doc[Any]:
    """The document from its stored state and updates; with ``title`` (the stored column),
    seeded with it if it has no seed yet, and with ``content`` (the stored Markdown) too when
    the stored state is empty (see ``seed_content``)."""
    from pycrdt import Doc, Text

    doc: Doc[Any] = Doc()
    doc.get(TEXT_NAME, type=Text)
    doc.get(TITLE_NAME, type=Text)
    if state:
        doc.apply_update(state)
    for update in updates:
        doc.apply_update(update)
    if title is not None:
        seed_title(doc, title, seed_content(state, content))
    return doc


def text_of(doc: Doc[Any]) -> str:
    from pycrdt import Text

    return str(doc.get(TEXT_NAME, type=Text))


def title_of(doc: Doc[Any]) -> str:
    from pycrdt import Text

    return str(doc.get(TITLE_NAME, type=Text))


def column_title(title: str) -> str:
    """The live title as the stored column keeps it: one line, at most ``TITLE_MAX``."""
    return title.replace("\r", " ").replace("\n", " ")[:TITLE_MAX]


def seed_update(title: str, content: str = "") -> bytes:
    """The one insertion of ``title`` (and of ``content``, for a document stored without a
    state) every server makes alike. An empty title still leaves a (deleted) mark, so the
    document counts as seeded; without content it is the title's seed alone, as before."""
    from pycrdt import Doc, Text

    doc: Doc[Any] = Doc(client_id=SEED_CLIENT)
    text = doc.get(TITLE_NAME, type=Text)
    with doc.transaction():
        text.insert(0, title or " ")
        if not title:
            del text[0:1]
        if content:
            doc.get(TEXT_NAME, type=Text).insert(0, content)
    return doc.get_update()


def seed_content(state: bytes | None, content: str | None) -> str:
    """What of the content column goes into the seed: all of it when the stored state is
    empty (the document was stored as Markdown alone), else nothing (the state holds it)."""
    return "" if state else content or ""


def _numbers(data: bytes) -> list[int]:
    """The variable-length integers ``data`` is made of (pycrdt's own output, well formed)."""
    numbers, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            numbers.append(value)
            value, shift = 0, 0
    return numbers


def _clients(state_vector: bytes) -> set[int]:
    """The client ids of an encoded state vector (pycrdt's own, so well formed)."""
    return set(_numbers(state_vector)[1::2])  # count, then (client, clock) pairs


def pending_part(update: bytes, state_vector: bytes) -> bytes | None:
    """What of ``update`` a document at ``state_vector`` (having applied it) holds only as
    pending: structs that wait for ones it lacks, deletions of items it lacks. None when it
    integrated everything.

    Yjs keeps such parts aside until what they depend on arrives, and a state encoded from
    the document leaves them out, so whoever rebuilds a state from updates keeps this too.
    """
    from pycrdt import get_update

    rest = get_update(update, state_vector)  # the structs beyond the vector, every deletion
    if rest[:1] != b"\x00":
        return rest  # structs the document could not integrate
    # No structs: the rest is a delete set, integers only (clients, then per client its id,
    # its range count and (clock, length) ranges).
    numbers = _numbers(rest)
    known = _numbers(state_vector)
    clocks = dict(zip(known[1::2], known[2::2], strict=True))
    keep: list[list[int]] = []
    i = 2
    for _ in range(numbers[1]):
        client, count = numbers[i], numbers[i + 1]
        i += 2
        spans = numbers[i : i + 2 * count]
        i += 2 * count
        reach = clocks.get(client, 0)
        missing = [
            n
            for clock, length in zip(spans[::2], spans[1::2], strict=True)
            if clock + length > reach
            for n in (clock, length)
        ]
        if missing:
            keep.append([client, len(missing) // 2, *missing])
    if not keep:
        return None
    return b"".join(_var_uint(n) for n in [0, len(keep), *(n for group in keep for n in group)])


def _var_uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def full_state(doc: Doc[Any], sources: Iterable[bytes]) -> bytes:
    """The state of ``doc`` (built from ``sources``) with every pending part of the sources
    kept, so that nothing an update carried is lost when the sources are replaced by it."""
    from pycrdt import merge_updates

    state_vector = doc.get_state()
    pending = [p for p in (pending_part(s, state_vector) for s in sources if s) if p is not None]
    state = doc.get_update()
    return merge_updates(state, *pending) if pending else state


def has_seed(doc: Doc[Any]) -> bool:
    return SEED_CLIENT in _clients(doc.get_state())


def seed_title(doc: Doc[Any], title: str, content: str = "") -> bool:
    """Give a document stored before titles were live its title (and a document stored
    without a state its ``content``, see ``seed_content``); True if the seed was missing."""
    if has_seed(doc):
        return False
    doc.apply_update(seed_update(title, content))
    return True


def initial_state(content: str, title: str = "") -> bytes:
    from pycrdt import Text

    doc = make_doc()
    seed_title(doc, title)
    if content:
        doc.get(TEXT_NAME, type=Text).insert(0, content)
    return doc.get_update()


def _edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) over ``old`` in characters, sorted, not overlapping."""
    if old == new:
        return []
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    a, b = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    if not a or not b or len(a) + len(b) > _FINE_DIFF_LIMIT:
        return [(prefix, prefix + len(a), b)]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [
        (prefix + i1, prefix + i2, b[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _replace(text: Text, new: str) -> bool:
    old = str(text)
    edits = _edits(old, new)
    # From the end backwards so earlier offsets stay valid; offsets are UTF-8 bytes.
    for start, end, replacement in reversed(edits):
        byte_start = len(old[:start].encode())
        byte_len = len(old[start:end].encode())
        if byte_len:
            del text[byte_start : byte_start + byte_len]
        if replacement:
            text.insert(byte_start, replacement)
    return bool(edits)


def apply_texts(
    doc: Doc[Any], texts: Mapping[str, str], since: bytes | None = None
) -> bytes | None:
    """Turn each named text into its new value with minimal edits, in one transaction;
    return the Yjs update since the state vector ``since`` (default: before the edits), or
    None when no text changed."""
    from pycrdt import Text

    before = since if since is not None else doc.get_state()
    changed = False
    with doc.transaction():
        for name, new in texts.items():
            changed = _replace(doc.get(name, type=Text), new) or changed
    return doc.get_update(before) if changed else None


def apply_text(doc: Doc[Any], new: str) -> bytes | None:
    """Turn the doc's text into ``new`` with a minimal edit; return the Yjs update, if any."""
    return apply_texts(doc, {TEXT_NAME: new})
