"""TFRecord framing of a chunk of an event file: where its complete, CRC-checked records start.

An event file is a sequence of TFRecords: ``uint64 length``, masked CRC32C of the length, the payload, masked
CRC32C of the payload. A chunk is framed in one pass: the length fields are followed (predicted in bulk once
the writer's pattern shows), and the length CRCs are checked in bulk with table-driven CRC32C in numpy. A damaged
length field makes the framer search forward for the next valid record header (one skip counted); a header whose
record does not fit in the chunk is reported as pending, to be read whole or left for the next poll.
"""

from __future__ import annotations

import array
import functools
import struct
from dataclasses import dataclass

import google_crc32c
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ckptgui.formats.wire import mask, masked_crc32c

CRC_SPAN = 4096  # longest message whose CRC the tables can update byte by byte
HEADER = 12  # uint64 length + masked CRC of the length
FRAME = 16  # header + masked CRC of the payload

_U64 = struct.Struct("<Q").unpack_from
_CRC_ZERO8 = google_crc32c.value(bytes(8))


def byte_windows(data: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of the 1-D byte array ``data``, row ``i`` starting at byte ``i`` (a read-only
    view). numpy's ``sliding_window_view`` gives the same; its checks cost 30 us a call, and the reader makes
    thousands of calls on a folder of small event files."""
    count = max(0, len(data) - width + 1)
    return as_strided(data, shape=(count, width), strides=(data.strides[0], data.strides[0]), writeable=False)


@functools.cache
def crc_tables() -> np.ndarray:
    """``T[k, b]``: CRC32C contribution (no initial value, no final xor) of byte b followed by k zero bytes.

    CRC is linear, so the CRC of a message is the xor of its bytes' contributions: many messages of one
    length are checked at once, and a message differing from a known one in a few bytes is checked from
    the known CRC and those bytes.
    """
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    tables = np.empty((CRC_SPAN, 256), dtype=np.uint32)
    tables[0] = t
    for k in range(1, CRC_SPAN):
        prev = tables[k - 1]
        tables[k] = t[prev & 0xFF] ^ (prev >> 8)
    return tables


def _crc8(columns: np.ndarray) -> np.ndarray:
    """Masked CRC32C of 8-byte messages, one per row of the (rows, 8) uint8 array."""
    tables = crc_tables()
    crc = np.full(len(columns), _CRC_ZERO8, dtype=np.uint32)
    for j in range(8):
        crc ^= np.take(tables[7 - j], columns[:, j])
    return mask(crc)


def _headers_ok(heads: np.ndarray) -> np.ndarray:
    """Which 12-byte record headers (rows of ``heads``) carry the right masked CRC of their length."""
    stored = np.ascontiguousarray(heads[:, 8:HEADER]).view("<u4").ravel()
    return _crc8(heads[:, :8]) == stored


def _length_crcs(lens: np.ndarray) -> np.ndarray:
    """The masked CRC32C each record length should have in its header (computed once per distinct length)."""
    if len(lens) > 4096 and lens.max() < 1 << 16:
        present = np.zeros(1 << 16, dtype=bool)
        present[lens] = True
        distinct = np.flatnonzero(present)
        lut = np.zeros(1 << 16, dtype=np.uint32)
        lut[distinct] = _length_crcs(distinct)
        return lut[lens]
    return _crc8(lens.astype("<u8").view(np.uint8).reshape(-1, 8))


def _walk_slow(buf: bytearray, pos: int, end: int, offs: array.array, lens: array.array, limit: int) -> int:
    """Follow up to ``limit`` length fields from ``pos``, one by one; returns where it stopped."""
    add_off, add_len = offs.append, lens.append
    while limit and pos + HEADER <= end:
        (length,) = _U64(buf, pos)
        nxt = pos + FRAME + length
        if nxt > end:
            break
        add_off(pos)
        add_len(length)
        pos = nxt
        limit -= 1
    return pos


def _period(recent: list[int]) -> int:
    """The shortest period (up to 32) seen three times at the end of ``recent`` lengths, 0 when there is none."""
    for p in range(1, min(32, len(recent) // 3) + 1):
        last = recent[-p:]
        if last == recent[-2 * p : -p] and last == recent[-3 * p : -2 * p]:
            return p
    return 0


def _walk(buf: bytearray, pos: int, end: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Header offsets and payload lengths of the records that fit in ``buf[pos:end]``, following the length fields.

    Writers repeat themselves (three tags, step after step), so after a few records the next lengths
    are predicted from the pattern, checked against the data in one numpy gather, and accepted up to
    the first surprise; from there the walk goes on one record at a time until a pattern shows again.
    The result is exactly that of following the lengths one by one.
    """
    dn = np.frombuffer(buf, dtype=np.uint8)
    offs_parts: list[np.ndarray] = []
    lens_parts: list[np.ndarray] = []
    recent: list[int] = []
    block = 256
    while True:
        offs, lens = array.array("q"), array.array("q")
        pos = _walk_slow(buf, pos, end, offs, lens, 64)
        if offs:
            offs_parts.append(np.frombuffer(offs, dtype=np.int64))
            lens_parts.append(np.frombuffer(lens, dtype=np.int64))
            recent = (recent + lens.tolist())[-96:]
        if len(offs) < 64:
            break
        p = _period(recent)
        while p:
            guess = np.tile(np.array(recent[-p:], dtype=np.int64), -(-block // p))[:block]
            ends = pos + np.cumsum(guess + FRAME)
            fits = int(np.searchsorted(ends, end, side="right"))
            if not fits:
                break
            starts = np.concatenate(([pos], ends[: fits - 1]))
            actual = byte_windows(dn, 8)[starts].view("<i8").ravel()
            wrong = np.flatnonzero(actual != guess[:fits])
            good = int(wrong[0]) if len(wrong) else fits
            if good:
                offs_parts.append(starts[:good])
                lens_parts.append(guess[:good])
                recent = (recent + guess[max(0, good - 96) : good].tolist())[-96:]
            pos = int(starts[good]) if good < fits else int(ends[fits - 1])
            if good < fits or fits < block:
                block = 256
                break
            block = min(block * 4, 1 << 16)
    if not offs_parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, pos
    return np.concatenate(offs_parts), np.concatenate(lens_parts), pos


def _find_header(buf: bytearray, dn: np.ndarray, pos: int, end: int, complete: bool = False) -> int:
    """The first offset >= pos holding a record header with a valid length CRC (and payload CRC, if complete);
    with ``complete``, only a header whose whole record is there and valid counts.

    A header is never all zero bytes (the masked CRC of a zero length is not zero), so only positions within 11
    bytes before a non-zero byte are checked: a run of zeros (a preallocated or zero-filled file) costs one pass.
    """
    window = 4096
    windows = byte_windows(dn[:end], HEADER) if end >= HEADER else None
    while windows is not None and pos < len(windows):
        stop = min(len(windows), pos + window)
        window = min(window * 4, 1 << 20)
        if not dn[pos : stop + HEADER - 1].any():
            pos = stop
            continue
        nonzero = np.cumsum(dn[pos : stop + HEADER - 1] != 0, dtype=np.int64)
        candidates = np.flatnonzero(nonzero[HEADER - 1 :] - np.concatenate(([0], nonzero[: stop - pos - 1])) > 0)
        for hit in candidates[_headers_ok(windows[pos:stop][candidates])]:
            p = pos + int(hit)
            (length,) = _U64(buf, p)
            if p + FRAME + length > end:
                if complete:
                    continue
                return p  # plausible record, not complete yet
            payload = bytes(buf[p + HEADER : p + HEADER + length])
            if masked_crc32c(payload) == struct.unpack_from("<I", buf, p + HEADER + length)[0]:
                return p
        pos = stop
    return -1


# The longest record that can exist: an event is one protobuf message, and protobuf cannot write one of 2 GiB.
MAX_RECORD = (1 << 31) - 1


def impossible(buf: bytearray, start: int, end: int) -> bool:
    """Whether the valid header at ``buf[start]``, whose record runs past ``end`` (the end of the file read), lies
    about its length: longer than any record can be, or followed by a complete valid record, which a record
    still being written (always the file's last) never is."""
    (length,) = _U64(buf, start)
    if length > MAX_RECORD:
        return True
    return _find_header(buf, np.frombuffer(buf, dtype=np.uint8), start + 1, end, complete=True) >= 0


@dataclass
class Framing:
    """The records of one chunk, and where framing stopped."""

    offs: np.ndarray  # header offset of each complete record
    lens: np.ndarray  # its payload length
    consumed: int  # bytes done with (records, skipped damage)
    resync: bool  # still searching for a valid header at ``consumed``
    skipped: int  # damaged headers passed over
    pending: int  # payload length of a valid header at ``consumed`` whose record is not all in the chunk, else -1


def frame(buf: bytearray, end: int, resync: bool) -> Framing:
    """Frame the records of ``buf[:end]``; with ``resync``, first search for a valid header.

    ``buf`` holds 8 bytes past ``end`` (any value): callers decode records as rows of whole uint64 words.
    """
    dn = np.frombuffer(buf, dtype=np.uint8)
    offs_parts: list[np.ndarray] = []
    lens_parts: list[np.ndarray] = []
    pos = skipped = 0
    pending = -1
    while True:
        if resync:
            found = _find_header(buf, dn, pos, end)
            if found < 0:
                pos = max(pos, end - (HEADER - 1))  # a header may start in the last 11 bytes
                break
            pos, resync = found, False
        offs, lens, stop = _walk(buf, pos, end)
        if len(offs):
            ok = byte_windows(dn, 4)[offs + 8].view("<u4").ravel() == _length_crcs(lens)
            if not ok.all():
                bad = int(np.argmin(ok))
                offs_parts.append(offs[:bad])
                lens_parts.append(lens[:bad])
                skipped += 1
                pos, resync = int(offs[bad]) + 1, True
                continue
            offs_parts.append(offs)
            lens_parts.append(lens)
        pos = stop
        if stop + HEADER <= end:  # a header whose record does not fit: not written yet, or damaged
            if _headers_ok(dn[None, stop : stop + HEADER])[0]:
                pending = _U64(buf, stop)[0]
            else:
                skipped += 1
                pos, resync = stop + 1, True
                continue
        break
    if offs_parts:
        offs, lens = np.concatenate(offs_parts), np.concatenate(lens_parts)
    else:
        offs = lens = np.empty(0, dtype=np.int64)
    return Framing(offs, lens, pos, resync, skipped, pending)
