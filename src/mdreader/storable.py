"""Text a database cannot store: NUL characters (PostgreSQL refuses them in text) and lone
surrogates (half of a UTF-16 pair: no database can encode them as UTF-8).

Both are refused on every database, so that an archive of a SQLite instance always restores
into PostgreSQL. Requests are checked in one place (``api/input.py``) before any route runs;
text that arrives inside files (an imported Markdown file) is checked where it is decoded.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from mdreader.errors import AppError

DETAIL = (
    "The request holds text that cannot be stored: a NUL character (U+0000) or half of a "
    "UTF-16 surrogate pair. Remove it and send the request again."
)
CODE = "invalid_text"

# A JSON escape of NUL or of a surrogate, preceded by an even number of backslashes (an odd
# number would make the backslash before the `u` an escaped backslash: plain text).
_JSON_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# A surrogate encoded straight into the bytes (CESU-8); Python's JSON decoder lets it through.
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check(text: str, what: str) -> None:
    """Refuse ``text`` (422) when it cannot be stored; ``what`` names it in the sentence."""
    if unstorable(text):
        raise AppError(
            422,
            f"{what} holds a NUL character (U+0000) or half of a UTF-16 surrogate pair, "
            "which cannot be stored. Remove it and try again.",
            CODE,
        )


def json_unstorable(body: bytes) -> bool:
    """Whether a JSON document (as bytes) holds a string with a NUL or a lone surrogate.

    JSON can carry either only as a ``\\u`` escape (a raw control character is invalid JSON),
    or as surrogate bytes that Python's decoder accepts; a pair of escapes that makes one
    character (``\\ud83d\\ude00``) is fine.
    """
    if _RAW_SURROGATE.search(body):
        return True
    if b"\\u" not in body:
        return False
    high_ends = -1  # where the escape of a high surrogate waiting for its low half ends
    for match in _JSON_ESCAPE.finditer(body):
        value = int(match.group(1), 16)
        is_low = 0xDC00 <= value <= 0xDFFF
        escape_start = match.end() - 6
        if high_ends >= 0:
            if not (is_low and escape_start == high_ends):
                return True
            high_ends = -1
            continue
        if value == 0 or is_low:
            return True
        high_ends = match.end()  # a high surrogate: its low half must follow at once
    return high_ends >= 0


def form_unstorable(body: bytes) -> bool:
    """Whether a URL-encoded string (a query string, a form body) decodes to a NUL.

    Percent-encoded bytes that are not UTF-8 are decoded as U+FFFD, never as surrogates."""
    return b"\x00" in body or (b"%00" in body and b"\x00" in unquote_to_bytes(body))
