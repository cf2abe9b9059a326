"""lib0 variable-length encoding (what Yjs, y-protocols and Hocuspocus put on the wire).

The decoder is bounded: every read checks what is left, integers are capped at 53 bits (as in
JavaScript) and strings and byte arrays cannot claim more bytes than the message holds, so a
malformed or truncated frame raises ``ProtocolError`` instead of allocating or looping.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """A frame that does not decode; the socket that sent it is closed."""


_MAX_VARUINT_BYTES = 8  # 7 bits each: 56 bits, enough for JavaScript's 53-bit integers


class Decoder:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def has_content(self) -> bool:
        return self.pos < len(self.data)

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read_var_uint(self) -> int:
        result = 0
        shift = 0
        data, pos = self.data, self.pos
        for _ in range(_MAX_VARUINT_BYTES):
            if pos >= len(data):
                raise ProtocolError("the message ends inside a number")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.pos = pos
                return result
            shift += 7
        raise ProtocolError("a number in the message is too long")

    def read_bytes(self, n: int) -> bytes:
        if n > self.remaining():
            raise ProtocolError("the message claims more bytes than it holds")
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def read_var_bytes(self) -> bytes:
        return self.read_bytes(self.read_var_uint())

    def read_var_string(self) -> str:
        raw = self.read_var_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("a string in the message is not UTF-8") from None

    def rest(self) -> bytes:
        start, self.pos = self.pos, len(self.data)
        return self.data[start:]


def var_uint(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative")
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def var_bytes(data: bytes) -> bytes:
    return var_uint(len(data)) + data


def var_string(text: str) -> bytes:
    return var_bytes(text.encode("utf-8"))


def read_state_vector(data: bytes) -> dict[int, int]:
    """Decode an encoded Yjs state vector (client id → clock)."""
    decoder = Decoder(data)
    count = decoder.read_var_uint()
    if count > decoder.remaining():
        raise ProtocolError("the state vector claims more entries than it holds")
    vector: dict[int, int] = {}
    for _ in range(count):
        client = decoder.read_var_uint()
        vector[client] = decoder.read_var_uint()
    return vector
