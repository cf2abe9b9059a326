"""The Markdown of a document as a Yjs ``Y.Text`` named ``content`` (pycrdt).

pycrdt indexes text by UTF-8 bytes while Yjs clients count UTF-16 units; edits computed on
Python strings are turned into byte offsets here, so they land where they belong whatever
the client's encoding.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pycrdt import Doc, Text

TEXT_NAME = "content"
_FINE_DIFF_LIMIT = 4000  # beyond this many changed characters, replace the changed span


def make_doc(state: bytes = b"", updates: Iterable[bytes] = ()) -> Doc:
    doc: Doc = Doc()
    doc.get(TEXT_NAME, type=Text)
    if state:
        doc.apply_update(state)
    for update in updates:
        doc.apply_update(update)
    return doc


def text_of(doc: Doc) -> str:
    return str(doc.get(TEXT_NAME, type=Text))


def initial_state(content: str) -> bytes:
    doc = make_doc()
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


def apply_text(doc: Doc, new: str) -> bytes | None:
    """Turn the doc's text into ``new`` with a minimal edit; return the Yjs update, if any."""
    text = doc.get(TEXT_NAME, type=Text)
    old = str(text)
    edits = _edits(old, new)
    if not edits:
        return None
    before = doc.get_state()
    with doc.transaction():
        # From the end backwards so earlier offsets stay valid; offsets are UTF-8 bytes.
        for start, end, replacement in reversed(edits):
            byte_start = len(old[:start].encode())
            byte_len = len(old[start:end].encode())
            if byte_len:
                del text[byte_start : byte_start + byte_len]
            if replacement:
                text.insert(byte_start, replacement)
    return doc.get_update(before)
