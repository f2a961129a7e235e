"""The incremental reader of one event file: reads only the bytes added since the last call.

The reader keeps its offset in the file. When the storage's change token of the file is the one seen last time,
nothing is read; otherwise the new bytes are read in chunks (a record longer than a chunk is read whole, one
longer than :data:`_HUGE` is skipped unread), framed, and handed on as records. A record whose last bytes are not
written yet is left for the next call. A file that shrank is read again from its start, and so is a file that
was replaced: the bytes just before the offset are read again with the new ones, and when they differ from what
was read there before, the file is another one under the same name. A record header whose CRC is valid but
whose length cannot be (over 2 GiB, or past the end of the file with complete records after it) is damage: it is
counted and the search for the next record goes on after it, so one forged header never hides the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import numpy as np

from ckptgui.formats.events.framing import FRAME, frame, impossible
from ckptgui.storage import FileInfo, Storage

_CHUNK = 16 << 20  # bytes read at a time (a longer record is read whole)
_HUGE = 256 << 20  # a record longer than this is skipped unread: a graph or an image, never a scalar
_TAIL = 16  # bytes before the offset compared again: the end of the last record read, its CRC included

Records = Callable[[bytearray, np.ndarray, np.ndarray], None]
"""Receives a chunk (8 bytes of padding after its last record) and the header offsets and payload lengths of
its complete, length-checked records."""


class EventFileReader:
    """Where reading of one event file stands; :meth:`read` goes on from there."""

    def __init__(self, storage: Storage, path: str) -> None:
        self.path = path
        self._storage = storage
        self._offset = 0
        self._token: str | None = None  # of the file as last read through
        self._tail = b""  # the _TAIL bytes before the offset, as read
        self._resync = False  # still searching for a valid header at the offset

    def read(self, info: FileInfo, records: Records) -> int:
        """Read what was added to the file (now ``info``) and pass its records on; returns damaged headers skipped.

        Raises ``OSError`` when the file cannot be read; the next call tries again from the same offset.
        """
        if info.token == self._token:
            return 0
        if info.size < self._offset:
            self._restart()  # truncated
        with self._storage.open(self.path, "rb") as handle:
            if self._tail:
                handle.seek(self._offset - len(self._tail))
                if handle.read(len(self._tail)) != self._tail:
                    self._restart()  # replaced by another file under the same name
            skipped = self._read_from(handle, info.size, records)
        self._token = info.token
        return skipped

    def _restart(self) -> None:
        self._offset, self._tail, self._resync = 0, b"", False

    def _read_from(self, handle: IO[bytes], size: int, records: Records) -> int:
        skipped = need = 0
        while self._offset < size:
            want = min(size - self._offset, max(_CHUNK, need))
            buf = bytearray(want + 8)  # padding: rows of whole uint64 words may run past the last record
            handle.seek(self._offset)
            got = handle.readinto(memoryview(buf)[:want]) or 0
            framing = frame(buf, got, self._resync)
            skipped += framing.skipped
            self._resync = framing.resync
            if len(framing.offs):
                records(buf, framing.offs, framing.lens)
            if framing.consumed:
                self._offset += framing.consumed
                self._tail = bytes(buf[max(0, framing.consumed - _TAIL) : framing.consumed])
            need = 0
            if framing.pending >= 0:
                total = FRAME + framing.pending
                if self._offset + total > size:
                    if framing.consumed:
                        continue  # read again from the header: what follows it decides whether it lies
                    if not impossible(buf, 0, got):
                        break  # the rest of the record is not written yet
                    skipped += 1  # a valid CRC on a length that cannot be: search on from the next byte
                    self._offset += 1
                    self._tail, self._resync = b"", True
                    continue
                if total > _HUGE:
                    self._offset += total  # a graph or a large image, never a scalar: skipped unread
                    self._tail = b""
                    continue
                need = total
                continue
            if framing.consumed == 0 or got < want:
                break
        return skipped


def read_span(storage: Storage, path: str, start: int, end: int, records: Records) -> None:
    """Pass on the complete records of ``path``'s bytes ``[start, end)``; from ``start > 0`` the framing first
    searches for a valid header (the TFRecord length CRC), so a span may begin in the middle of a record."""
    want = max(0, end - start)
    buf = bytearray(want + 8)
    with storage.open(path, "rb") as handle:
        handle.seek(start)
        got = handle.readinto(memoryview(buf)[:want]) or 0
    framing = frame(buf, got, start > 0)
    if len(framing.offs):
        records(buf, framing.offs, framing.lens)
