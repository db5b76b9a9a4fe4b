"""Bytes on their way out: pieces gathered into chunks of a useful size, and a write-only,
non-seekable file whose writes are taken away as they come (what zipfile writes into)."""

import io
import json
from collections.abc import Iterable, Iterator

CHUNK_BYTES = 64 * 1024


def json_bytes(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def in_chunks(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Gather small pieces (a record each) into chunks of about CHUNK_BYTES."""
    size = CHUNK_BYTES
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


class Outbox(io.RawIOBase):
    """A file that only appends and cannot seek: zipfile then writes each member's sizes after
    its data (a data descriptor) instead of going back to its header. `take()` empties it."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []
        self._held = 0

    def writable(self):
        return True

    def write(self, data):
        self._parts.append(bytes(data))
        self._held += len(data)
        return len(data)

    @property
    def held(self):
        return self._held

    def take(self):
        data = b"".join(self._parts)
        self._parts, self._held = [], 0
        return data
