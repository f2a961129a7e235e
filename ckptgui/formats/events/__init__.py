"""Fast, incremental reader of TensorFlow event files (``events.out.tfevents.*``), without TensorFlow.

The plots must show what is on disk, whoever wrote it (our trainer, Estimator, Keras' TensorBoard
callback, a user's script, another process right now), the moment the window opens and while a run
is still writing. So this module reads the files itself, with numpy, and never imports TensorFlow.

What is read
    An event file is a sequence of TFRecords (``uint64 length``, masked CRC32C of the length, the
    payload, masked CRC32C of the payload); each payload is an ``Event`` proto. Scalars come in two
    encodings: TF1 ``Summary.Value.simple_value`` and TF2 ``Summary.Value.tensor`` (a one-element
    tensor, float/double/half/bfloat16/int/bool) whose summary metadata names the ``scalars``
    plugin. As in TensorBoard, the first metadata seen for a tag classifies that tag's later values
    that carry none. Other summary kinds (histograms, images, audio, text, other plugins' tensors)
    are counted in :attr:`ScalarReader.other_values` and skipped; each file's ``file_version`` is
    kept in :attr:`ScalarReader.file_versions`.

Runs and merging
    PATH is a model_dir (or any log dir), one run folder, or one event file. Every directory under
    PATH holding a file whose name contains ``tfevents`` is a run, named by its path relative to
    PATH with ``/`` separators (``.`` for PATH itself), e.g. ``.``, ``eval``, ``train``,
    ``validation``. Symlinked directories are not followed. A run's files are read in name order
    (their names start with the creation time) and their points form one series per tag, ordered
    by step, one point per step:

    * a point whose step is not above the last one of its series is a rewind: the points already
      held at that step or later are dropped and the new point wins. A restart from an older
      checkpoint therefore replaces the orphaned points of the crashed run (TensorBoard purges
      them too), and a step written twice keeps its latest value;
    * a ``SessionLog.START`` event at step S (written by Estimator / MonitoredSession on every
      start) other than the run's first drops the points at step >= S of every tag of the run,
      exactly as TensorBoard does.

    TensorBoard purges out-of-order steps only for files older than ``file_version`` 2 and on
    ``SessionLog.START``; TF2 writers never write that event, so after a restart TensorBoard
    draws both runs over each other, where we keep the newer one.

Incremental reading and damage
    :meth:`ScalarReader.poll` keeps an offset per file and reads only the bytes added since the
    last call; when nothing changed it costs one ``stat`` per file and per directory (a directory
    is listed again when its mtime changes or is less than two seconds old, which catches new
    files and runs on file systems with coarse timestamps). A record whose last bytes are not
    written yet is left for the next poll. A record whose payload CRC does not match, or whose
    payload is not a valid Event, is skipped and counted in :attr:`ScalarReader.skipped_records`;
    a damaged length field makes the reader search forward for the next valid record header
    (one skip counted). A file that shrinks or is replaced is read again from its start. Nothing
    in here raises on bad bytes; unreadable files are listed in :attr:`ScalarReader.problems`.

Threading
    A :class:`ScalarReader` is meant to be driven by one thread at a time (the GUI's worker
    thread); an internal lock serialises calls anyway, so a call from a second thread waits for
    the one in progress. The arrays it hands out are read-only snapshots that are never written
    to again (appends go past their end, rewinds build new arrays), so they can be passed to the
    GUI thread and kept without copying.

Why it is fast
    Per-record Python work is what makes TensorBoard slow. Here a chunk of records is framed in
    one pass, length CRCs are checked in bulk with table-driven CRC32C in numpy, and records of
    the same length are matched against *templates*: a template is one record decoded by hand,
    with the bytes that vary between records of its kind marked (wall time, the low bits of the
    step varint, the scalar values). Every other record that equals the template outside those
    bytes is decoded by slicing columns out of a 2-D byte array, and its CRC is the template's
    CRC updated for the bytes that differ (CRC is linear), so a steady stream of scalars costs a
    few numpy operations per thousand records. Records that fit no template are decoded one by
    one (and checked with google-crc32c).
"""

from __future__ import annotations

import array
import csv
import functools
import itertools
import os
import stat
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import google_crc32c
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["ScalarReader", "ScalarSeries", "export_csv", "is_event_file", "read_scalars"]

_CHUNK = 16 << 20  # bytes read at a time (a longer record is read whole)
_HUGE = 256 << 20  # a record longer than this is skipped unread: a graph or an image, never a scalar
_TEMPLATE_MAX = 4096  # payloads longer than this are decoded one by one
_MAX_MISSES = 8  # templates that match nothing else before a length group is decoded one by one
_MAX_TEMPLATES = 4096  # per run; beyond it new kinds of records are decoded one by one
_RESCAN_RECENT_S = 2.0
_SESSION_START = 1  # SessionLog.START
_ORDER_SHIFT = 16  # order key of a point: record index << 16 | position of the value in its record
_MASK_DELTA = 0xA282EAD8


# ---------------------------------------------------------------------------------------------------------------------
# CRC32C in numpy: tables for the linear part of the CRC, used to check many short messages at once.


@functools.cache
def _crc_tables() -> np.ndarray:
    """``T[k, b]``: CRC32C contribution (no initial value, no final xor) of byte b followed by k zero bytes."""
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    tables = np.empty((_TEMPLATE_MAX, 256), dtype=np.uint32)
    tables[0] = t
    for k in range(1, _TEMPLATE_MAX):
        prev = tables[k - 1]
        tables[k] = t[prev & 0xFF] ^ (prev >> 8)
    return tables


_CRC_ZERO8 = google_crc32c.value(bytes(8))


def _mask_crc(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def _crc8(columns: np.ndarray) -> np.ndarray:
    """Masked CRC32C of 8-byte messages, one per row of the (rows, 8) uint8 array."""
    tables = _crc_tables()
    crc = np.full(len(columns), _CRC_ZERO8, dtype=np.uint32)
    for j in range(8):
        crc ^= np.take(tables[7 - j], columns[:, j])
    return _mask_crc(crc)


def _headers_ok(heads: np.ndarray) -> np.ndarray:
    """Which 12-byte record headers (rows of ``heads``) carry the right masked CRC of their length."""
    stored = np.ascontiguousarray(heads[:, 8:12]).view("<u4").ravel()
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


# ---------------------------------------------------------------------------------------------------------------------
# Hand decoding of one Event (the slow path, and how templates are made).


class _Garbled(Exception):
    """The payload is not a well-formed Event."""


def _varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        if x < 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise _Garbled


def _fields(b: bytes, start: int, end: int):
    """(field number, wire type, value start, value end) of each field of the message ``b[start:end]``."""
    i = start
    while i < end:
        key, i = _varint(b, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Garbled
        if wire == 0:
            j = _varint(b, i)[1]
        elif wire == 1:
            j = i + 8
        elif wire == 2:
            length, i = _varint(b, i)
            j = i + length
        elif wire == 5:
            j = i + 4
        else:
            raise _Garbled
        if j > end:
            raise _Garbled
        yield number, wire, i, j
        i = j


def _int64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >> 63 else v


# TensorProto dtype -> (numpy format, size) for tensor_content.
_DTYPES = {
    1: "<f4",  # DT_FLOAT
    2: "<f8",  # DT_DOUBLE
    3: "<i4",  # DT_INT32
    4: "<u1",  # DT_UINT8
    5: "<i2",  # DT_INT16
    6: "<i1",  # DT_INT8
    9: "<i8",  # DT_INT64
    10: "?",  # DT_BOOL
    14: "bf16",  # DT_BFLOAT16
    17: "<u2",  # DT_UINT16
    19: "<f2",  # DT_HALF
    22: "<u4",  # DT_UINT32
    23: "<u8",  # DT_UINT64
}
_VARINT_VALUE_FIELDS = {7, 10, 11, 13, 16, 17}  # int_val, int64_val, bool_val, half_val, uint32_val, uint64_val


def _half_bits(bits: int, dtype: int) -> float:
    if dtype == 14:
        return float(np.array([bits << 16], dtype=np.uint32).view(np.float32)[0])
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


@dataclass
class _TensorScalar:
    value: float | None  # None: not a one-element tensor of a numeric type
    offset: int = -1  # of the value bytes when they are fixed width (float/double), else -1
    fmt: str = ""


def _tensor_scalar(b: bytes, start: int, end: int) -> _TensorScalar:
    dtype = 0
    elements = 1
    content: tuple[int, int] | None = None
    typed: list[tuple[int, int, int, int]] = []
    for number, wire, s, e in _fields(b, start, end):
        if number == 1 and wire == 0:
            dtype = _varint(b, s)[0]
        elif number == 2 and wire == 2:
            for dnum, dwire, ds, de in _fields(b, s, e):
                if dnum == 2 and dwire == 2:
                    size = 1
                    for snum, swire, ss, _se in _fields(b, ds, de):
                        if snum == 1 and swire == 0:
                            size = _int64(_varint(b, ss)[0])
                    elements *= size
                elif dnum == 3 and dwire == 0 and _varint(b, ds)[0]:
                    elements = -1  # unknown rank
        elif number == 4 and wire == 2:
            content = (s, e)
        elif number in (5, 6) or number in _VARINT_VALUE_FIELDS:
            typed.append((number, wire, s, e))
    fmt = _DTYPES.get(dtype)
    if elements != 1 or fmt is None:
        return _TensorScalar(None)
    if content is not None and content[1] > content[0]:
        s, e = content
        if fmt == "bf16":
            return _TensorScalar(_half_bits(int.from_bytes(b[s:e], "little"), 14) if e - s == 2 else None)
        if np.dtype(fmt).itemsize != e - s:
            return _TensorScalar(None)
        value = float(np.frombuffer(b, dtype=fmt, count=1, offset=s)[0])
        return _TensorScalar(value, s, fmt) if fmt in ("<f4", "<f8") else _TensorScalar(value)
    if len(typed) != 1:
        return _TensorScalar(None)
    number, wire, s, e = typed[0]
    if number == 5 and ((wire == 2 and e - s == 4) or wire == 5):
        return _TensorScalar(struct.unpack_from("<f", b, s)[0], s, "<f4")
    if number == 6 and ((wire == 2 and e - s == 8) or wire == 1):
        return _TensorScalar(struct.unpack_from("<d", b, s)[0], s, "<f8")
    if number in _VARINT_VALUE_FIELDS and wire in (0, 2):
        raw, j = _varint(b, s)
        if wire == 2 and j != e:
            return _TensorScalar(None)
        if number == 13:
            return _TensorScalar(_half_bits(raw & 0xFFFF, dtype))
        if number in (16, 17):
            return _TensorScalar(float(raw))
        return _TensorScalar(float(_int64(raw)))
    return _TensorScalar(None)


@dataclass
class _Value:
    tag: str
    scalar: _TensorScalar | None  # the value when it is a number that could be a scalar
    simple: bool  # TF1 simple_value (always a scalar)
    plugin: str | None  # plugin name from this value's own metadata, None without metadata
    tensor: bool


@dataclass
class _Event:
    wall_time: float = 0.0
    wall_off: int = -1
    step: int = 0
    step_off: int = -1
    step_len: int = 0
    repeated: bool = False  # wall_time or step given twice: decoded right, but no template
    file_version: str | None = None
    session_start: bool = False
    values: list[_Value] = field(default_factory=list)


def _plugin_name(b: bytes, start: int, end: int) -> str:
    name = ""
    for number, wire, s, e in _fields(b, start, end):
        if number == 1 and wire == 2:
            for pnum, pwire, ps, pe in _fields(b, s, e):
                if pnum == 1 and pwire == 2:
                    name = b[ps:pe].decode("utf-8", "replace")
    return name


def _parse_value(b: bytes, start: int, end: int) -> _Value:
    tag = ""
    simple: tuple[int, int] | None = None
    tensor: tuple[int, int] | None = None
    plugin: str | None = None
    for number, wire, s, e in _fields(b, start, end):
        if number == 1 and wire == 2:
            tag = b[s:e].decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            simple = (s, e)
        elif number == 8 and wire == 2:
            tensor = (s, e)
        elif number == 9 and wire == 2:
            plugin = _plugin_name(b, s, e)
    if simple is not None:
        return _Value(
            tag, _TensorScalar(struct.unpack_from("<f", b, simple[0])[0], simple[0], "<f4"), True, plugin, False
        )
    if tensor is not None:
        return _Value(tag, _tensor_scalar(b, *tensor), False, plugin, True)
    return _Value(tag, None, False, plugin, False)


def _parse_event(b: bytes) -> _Event:
    """Decode the parts of an Event that matter here; raises _Garbled (or IndexError) on malformed bytes."""
    ev = _Event()
    seen: set[int] = set()
    for number, wire, s, e in _fields(b, 0, len(b)):
        if number in (1, 2) and number in seen:
            ev.repeated = True
        seen.add(number)
        if number == 1 and wire == 1:
            ev.wall_time = struct.unpack_from("<d", b, s)[0]
            ev.wall_off = s
        elif number == 2 and wire == 0:
            ev.step = _int64(_varint(b, s)[0])
            ev.step_off, ev.step_len = s, e - s
        elif number == 3 and wire == 2:
            ev.file_version = b[s:e].decode("utf-8", "replace")
        elif number == 5 and wire == 2:
            ev.values.extend(
                _parse_value(b, vs, ve) for vnum, vwire, vs, ve in _fields(b, s, e) if vnum == 1 and vwire == 2
            )
        elif number == 7 and wire == 2:
            for lnum, lwire, ls, _le in _fields(b, s, e):
                if lnum == 1 and lwire == 0 and _varint(b, ls)[0] == _SESSION_START:
                    ev.session_start = True
    return ev


# ---------------------------------------------------------------------------------------------------------------------
# Framing: where the complete, length-checked records of a chunk start.

_U64 = struct.Struct("<Q").unpack_from


def _walk_slow(buf: bytearray, pos: int, end: int, offs: array.array, lens: array.array, limit: int) -> int:
    """Follow up to ``limit`` length fields from ``pos``, one by one; returns where it stopped."""
    add_off, add_len = offs.append, lens.append
    while limit and pos + 12 <= end:
        (length,) = _U64(buf, pos)
        nxt = pos + 16 + length
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
            ends = pos + np.cumsum(guess + 16)
            fits = int(np.searchsorted(ends, end, side="right"))
            if not fits:
                break
            starts = np.concatenate(([pos], ends[: fits - 1]))
            actual = sliding_window_view(dn, 8)[starts].view("<i8").ravel()
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


def _find_header(buf: bytearray, dn: np.ndarray, pos: int, end: int) -> int:
    """The first offset >= pos holding a record header with a valid length CRC (and payload CRC, if complete)."""
    window = 4096
    windows = sliding_window_view(dn[:end], 12) if end >= 12 else None
    while windows is not None and pos < len(windows):
        stop = min(len(windows), pos + window)
        for hit in np.flatnonzero(_headers_ok(windows[pos:stop])):
            p = pos + int(hit)
            (length,) = _U64(buf, p)
            if p + 16 + length > end:
                return p  # plausible record, not complete yet
            payload = bytes(buf[p + 12 : p + 12 + length])
            if _masked(google_crc32c.value(payload)) == struct.unpack_from("<I", buf, p + 12 + length)[0]:
                return p
        pos = stop
        window = min(window * 4, 1 << 20)
    return -1


@dataclass
class _Framing:
    offs: np.ndarray  # header offset of each complete record
    lens: np.ndarray  # its payload length
    consumed: int  # bytes done with (records, skipped damage)
    resync: bool  # still searching for a valid header at ``consumed``
    skipped: int  # damaged headers passed over
    pending: int  # payload length of a valid header at ``consumed`` whose record is not all in the chunk, else -1


def _frame(buf: bytearray, end: int, resync: bool) -> _Framing:
    dn = np.frombuffer(buf, dtype=np.uint8)
    offs_parts: list[np.ndarray] = []
    lens_parts: list[np.ndarray] = []
    pos = skipped = 0
    pending = -1
    while True:
        if resync:
            found = _find_header(buf, dn, pos, end)
            if found < 0:
                pos = max(pos, end - 11)  # a header may start in the last 11 bytes
                break
            pos, resync = found, False
        offs, lens, stop = _walk(buf, pos, end)
        if len(offs):
            ok = sliding_window_view(dn, 4)[offs + 8].view("<u4").ravel() == _length_crcs(lens)
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
        if stop + 12 <= end:  # a header whose record does not fit: not written yet, or damaged
            if _headers_ok(dn[None, stop : stop + 12])[0]:
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
    return _Framing(offs, lens, pos, resync, skipped, pending)


# ---------------------------------------------------------------------------------------------------------------------
# Templates: one decoded record whose varying bytes are marked, used to decode its look-alikes in bulk.

_MULT = np.random.default_rng(20240611).integers(
    0, 2**64 - 1, size=_TEMPLATE_MAX // 8 + 1, dtype=np.uint64
) | np.uint64(1)
_FMT_SIZE = {"<f4": 4, "<f8": 8}


@dataclass(eq=False)
class _Template:
    words: np.ndarray  # the payload as uint64 words, varying bits zeroed
    hash: np.uint64
    crc: int  # CRC32C of the payload it was made from
    var_pos: np.ndarray  # offsets of the bytes that may vary
    crc_tables: np.ndarray  # per such byte: CRC change for each value it may take, from the template's value
    wall_off: int
    step_off: int
    step_len: int
    points: list[tuple[str, int, str, int]]  # tag, value offset, value format, position of the value in the record
    n_other: int  # non-scalar values in the record


class _Layout:
    """Templates of one payload length sharing which bits may vary; found by a hash of the fixed bits."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask.view("<u8").copy()
        self.columns = np.flatnonzero(self.mask).tolist()  # words holding fixed bits
        self.templates: list[_Template] = []

    def hash(self, words: np.ndarray) -> np.ndarray:
        h = np.zeros(len(words), dtype=np.uint64)
        for j in self.columns:
            h += (words[:, j] & self.mask[j]) * _MULT[j]
        return h

    def equal(self, words: np.ndarray, tpl: _Template) -> np.ndarray:
        """Which rows equal the template in every fixed bit."""
        diff = np.zeros(len(words), dtype=np.uint64)
        for j in self.columns:
            diff |= (words[:, j] & self.mask[j]) ^ tpl.words[j]
        return diff == 0


def _next_true(flags: np.ndarray, start: int) -> int:
    step = 256
    while start < len(flags):
        hit = np.flatnonzero(flags[start : start + step])
        if len(hit):
            return start + int(hit[0])
        start += step
        step = min(step * 4, 1 << 16)
    return -1


# ---------------------------------------------------------------------------------------------------------------------
# Points of one chunk, in file order, before they are merged into the series.


class _Points:
    def __init__(self) -> None:
        self.blocks: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.singles: dict[str, list[tuple[int, int, float, float]]] = {}
        self.markers: list[tuple[int, int]] = []  # (order key, step) of SessionLog.START events

    def add_block(self, tag: str, keys: np.ndarray, steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> None:
        self.blocks.setdefault(tag, []).append((keys, steps, walls, values))

    def add_one(self, tag: str, key: int, step: int, wall: float, value: float) -> None:
        self.singles.setdefault(tag, []).append((key, step, wall, value))

    def tags(self) -> set[str]:
        return set(self.blocks) | set(self.singles)

    def arrays(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """keys, steps, wall times, values of one tag, in file order."""
        parts = list(self.blocks.get(tag, ()))
        singles = self.singles.get(tag)
        if singles:
            keys, steps, walls, values = zip(*singles, strict=True)
            parts.append(
                (
                    np.array(keys, dtype=np.int64),
                    np.array(steps, dtype=np.int64),
                    np.array(walls, dtype=np.float64),
                    np.array(values, dtype=np.float64),
                )
            )
        if not parts:
            empty = np.empty(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty, empty
        if len(parts) == 1:
            keys, steps, walls, values = parts[0]
        else:
            keys, steps, walls, values = (np.concatenate(column) for column in zip(*parts, strict=True))
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # pieces come by record length, not file order
            order = np.argsort(keys, kind="stable")
            keys, steps, walls, values = keys[order], steps[order], walls[order], values[order]
        return keys, steps, walls, values


# ---------------------------------------------------------------------------------------------------------------------
# Public API.


@dataclass(eq=False)
class ScalarSeries:
    """Points of one tag of one run, ordered by step (numpy arrays, read-only).

    In :meth:`ScalarReader.poll` results a series holds only the points added since the previous poll,
    unless ``reset`` is true: then a rewind dropped points and the series holds every point of the tag,
    to replace (not extend) what the caller had.
    """

    run: str
    tag: str
    steps: np.ndarray  # int64
    wall_times: np.ndarray  # float64, seconds since the epoch
    values: np.ndarray  # float64
    reset: bool = False

    def __len__(self) -> int:
        return len(self.steps)


class _Buffer:
    """A growing series; never writes over a range it has handed out."""

    __slots__ = ("n", "steps", "values", "walls")

    def __init__(self) -> None:
        self.n = 0
        self.steps = np.empty(0, dtype=np.int64)
        self.walls = np.empty(0, dtype=np.float64)
        self.values = np.empty(0, dtype=np.float64)

    def cut(self, step: int) -> int:
        """Index of the first point at ``step`` or later."""
        return int(np.searchsorted(self.steps[: self.n], step, side="left"))

    def put(self, cut: int, steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> bool:
        """Keep the first ``cut`` points, then append; True when points were dropped (a rewind)."""
        m = len(steps)
        rewind = cut < self.n
        if rewind or self.n + m > len(self.steps):
            keep = cut if rewind else self.n
            capacity = max(64, 2 * (keep + m))
            new = []
            for old in (self.steps, self.walls, self.values):
                arr = np.empty(capacity, dtype=old.dtype)
                arr[:keep] = old[:keep]
                new.append(arr)
            self.steps, self.walls, self.values = new
            self.n = keep
        self.steps[self.n : self.n + m] = steps
        self.walls[self.n : self.n + m] = walls
        self.values[self.n : self.n + m] = values
        self.n += m
        return rewind

    def series(self, run: str, tag: str, start: int = 0, reset: bool = False) -> ScalarSeries:
        views = []
        for arr in (self.steps, self.walls, self.values):
            view = arr[start : self.n]
            view.flags.writeable = False
            views.append(view)
        return ScalarSeries(run, tag, *views, reset=reset)


@dataclass(eq=False)
class _File:
    path: str
    offset: int = 0
    seen_size: int = -1
    ident: tuple[int, int] | None = None
    resync: bool = False


@dataclass(eq=False)
class _Run:
    name: str
    files: dict[str, _File] = field(default_factory=dict)
    series: dict[str, _Buffer] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)  # tag -> plugin of the first metadata seen
    layouts: dict[int, dict[bytes, _Layout]] = field(default_factory=dict)  # payload length -> mask -> layout
    n_templates: int = 0
    seen_start: bool = False  # a SessionLog.START was read


def is_event_file(name: str) -> bool:
    """TensorBoard's rule: a file whose name contains ``tfevents``."""
    return "tfevents" in os.path.basename(name)


class ScalarReader:
    """Scalars of every run under ``path`` (a model_dir, a run folder or one event file), read incrementally.

    Creating one reads nothing; call :meth:`poll` (from one thread at a time; see the module docstring)
    whenever the plots should catch up. A path that does not exist yet is waited for.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._root = os.path.abspath(self.path)
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._dirs: dict[str, int] = {}  # directory -> mtime_ns when it was listed
        self._skipped = 0
        self._other = 0
        self._file_versions: dict[str, str] = {}
        self._problems: dict[str, str] = {}

    @property
    def file_versions(self) -> dict[str, str]:
        """Event file -> its ``file_version`` ("brain.Event:2" for every TF writer since 1.x)."""
        with self._lock:
            return dict(self._file_versions)

    @property
    def problems(self) -> dict[str, str]:
        """File or directory -> why it could not be read at the last poll (missing PATH, permissions...)."""
        with self._lock:
            return dict(self._problems)

    @property
    def skipped_records(self) -> int:
        """Damaged records (CRC mismatch, garbled Event, damaged header) skipped so far."""
        return self._skipped

    @property
    def other_values(self) -> int:
        """Summary values that are not scalars (histograms, images, other plugins' tensors) skipped so far."""
        return self._other

    def runs(self) -> dict[str, list[str]]:
        """Run (path relative to ``path``, ``.`` for itself) -> its scalar tags, for every run found so far."""
        with self._lock:
            return {name: sorted(self._runs[name].series) for name in sorted(self._runs)}

    def series(self, run: str, tag: str) -> ScalarSeries:
        """Every point of ``tag`` in ``run`` read so far; KeyError names what exists when there is no such series."""
        with self._lock:
            found = self._runs.get(run)
            if found is None:
                raise KeyError(f"no run {run!r} under {self.path}; runs: {', '.join(sorted(self._runs)) or 'none'}")
            buf = found.series.get(tag)
            if buf is None:
                raise KeyError(
                    f"no scalar tag {tag!r} in run {run!r}; tags: {', '.join(sorted(found.series)) or 'none'}"
                )
            return buf.series(run, tag)

    def poll(self) -> list[ScalarSeries]:
        """Read what was added since the last call; the series that changed, holding only their new points."""
        with self._lock:
            touched: dict[tuple[str, str], list] = {}  # (run, tag) -> [length before this poll, reset]
            self._discover()
            for name in sorted(self._runs):
                run = self._runs[name]
                for path in sorted(run.files):
                    self._read_file(run, run.files[path], touched)
            out = []
            for (name, tag), (start, reset) in touched.items():
                buf = self._runs[name].series[tag]
                out.append(buf.series(name, tag, 0 if reset else start, reset))
            return out

    # -- discovery --

    def _discover(self) -> None:
        try:
            st = os.stat(self._root)
        except OSError as exc:
            self._problems[self._root] = f"cannot read {self._root}: {exc.strerror or exc}"
            return
        self._problems.pop(self._root, None)
        if not stat.S_ISDIR(st.st_mode):
            self._add_file(".", self._root)
            return
        if not self._dirs:
            self._list_dirs(self._root)
            return
        now = time.time_ns()
        for path, listed_mtime in list(self._dirs.items()):
            if path not in self._dirs:
                continue  # forgotten with its parent during this loop
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                self._forget_dir(path)
                continue
            if mtime != listed_mtime or now - mtime < _RESCAN_RECENT_S * 1e9:
                self._list_dirs(path)

    def _list_dirs(self, top: str) -> None:
        """List ``top`` and every directory below it not listed before; register their event files."""
        stack = [top]
        while stack:
            path = stack.pop()
            try:
                self._dirs[path] = os.stat(path).st_mtime_ns
                entries = list(os.scandir(path))
            except OSError as exc:
                self._dirs.pop(path, None)
                if path == self._root:
                    self._problems[path] = f"cannot list {path}: {exc.strerror or exc}"
                continue
            run = os.path.relpath(path, self._root).replace(os.sep, "/")
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.path not in self._dirs:
                            stack.append(entry.path)
                    elif is_event_file(entry.name) and entry.is_file():
                        self._add_file(run, entry.path)
                except OSError:
                    continue

    def _forget_dir(self, path: str) -> None:
        prefix = path + os.sep
        for known in [d for d in self._dirs if d == path or d.startswith(prefix)]:
            del self._dirs[known]

    def _add_file(self, run_name: str, path: str) -> None:
        run = self._runs.get(run_name)
        if run is None:
            run = self._runs[run_name] = _Run(run_name)
        if path not in run.files:
            run.files[path] = _File(path)

    # -- reading --

    def _read_file(self, run: _Run, f: _File, touched: dict) -> None:
        try:
            st = os.stat(f.path)
        except FileNotFoundError:
            return  # deleted: its points stay
        except OSError as exc:
            self._problems[f.path] = f"cannot read {f.path}: {exc.strerror or exc}"
            return
        ident = (st.st_dev, st.st_ino)
        if f.ident is not None and (ident != f.ident or st.st_size < f.offset):
            f.offset, f.seen_size, f.resync = 0, -1, False  # replaced or truncated: read again from the start
        f.ident = ident
        if st.st_size == f.seen_size:
            return
        try:
            with open(f.path, "rb") as fh:
                self._read_from(run, f, fh, st.st_size, touched)
        except OSError as exc:
            self._problems[f.path] = f"cannot read {f.path}: {exc.strerror or exc}"
            return
        self._problems.pop(f.path, None)
        f.seen_size = st.st_size

    def _read_from(self, run: _Run, f: _File, fh: IO[bytes], size: int, touched: dict) -> None:
        need = 0
        while f.offset < size:
            want = min(size - f.offset, max(_CHUNK, need))
            buf = bytearray(want + 8)  # padding: rows of whole uint64 words may run past the last record
            fh.seek(f.offset)
            got = fh.readinto(memoryview(buf)[:want]) or 0
            fr = _frame(buf, got, f.resync)
            self._skipped += fr.skipped
            f.resync = fr.resync
            if len(fr.offs):
                points = _Points()
                self._decode(run, f.path, buf, fr.offs, fr.lens, points)
                self._merge(run, points, touched)
            f.offset += fr.consumed
            need = 0
            if fr.pending >= 0:
                total = 16 + fr.pending
                if f.offset + total > size:
                    break  # the rest of the record is not written yet
                if total > _HUGE:
                    f.offset += total  # a graph or a large image, never a scalar: skipped unread
                    continue
                need = total
                continue
            if fr.consumed == 0 or got < want:
                break

    def _decode(
        self, run: _Run, path: str, buf: bytearray, offs: np.ndarray, lens: np.ndarray, points: _Points
    ) -> None:
        dn = np.frombuffer(buf, dtype=np.uint8)
        pays = offs + 12
        stored = sliding_window_view(dn, 4)[pays + lens].view("<u4").ravel()
        order = np.argsort(lens.astype(np.uint16) if lens.max() < 1 << 16 else lens, kind="stable")
        sorted_lens = lens[order]
        bounds = [0, *(np.flatnonzero(np.diff(sorted_lens)) + 1).tolist(), len(order)]
        for lo, hi in itertools.pairwise(bounds):
            recs = order[lo:hi]
            n = int(sorted_lens[lo])
            if 0 < n <= _TEMPLATE_MAX:
                self._match_group(run, path, dn, buf, n, recs, pays[recs], stored[recs], points)
            else:
                for i in recs.tolist():
                    self._decode_one(run, path, buf, int(pays[i]), n, int(stored[i]), i, points, learn=False)

    def _match_group(
        self,
        run: _Run,
        path: str,
        dn: np.ndarray,
        buf: bytearray,
        n: int,
        recs: np.ndarray,
        pays: np.ndarray,
        stored: np.ndarray,
        points: _Points,
    ) -> None:
        """Decode records of payload length ``n``: known templates first, then learn templates from the rest."""
        rows = sliding_window_view(dn, (n + 7) // 8 * 8)[pays]
        words = rows.view("<u8")
        free = np.ones(len(recs), dtype=bool)
        layouts = run.layouts.setdefault(n, {})
        hashed: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def match(layout: _Layout, templates: list[_Template]) -> int:
            matched = 0
            for tpl in templates:
                if len(layout.templates) == 1:  # one kind of record: compare every free row with it
                    cand = np.flatnonzero(free)
                else:  # many: only rows with the same hash of their fixed bits
                    if id(layout) not in hashed:
                        h = layout.hash(words)
                        by_hash = np.argsort(h, kind="stable")
                        hashed[id(layout)] = (by_hash, h[by_hash])
                    by_hash, sorted_h = hashed[id(layout)]
                    lo = int(np.searchsorted(sorted_h, tpl.hash, side="left"))
                    hi = int(np.searchsorted(sorted_h, tpl.hash, side="right"))
                    cand = by_hash[lo:hi]
                    cand = cand[free[cand]]
                if not len(cand):
                    continue
                good = cand[layout.equal(words if len(cand) == len(free) else words[cand], tpl)]
                if len(good):
                    free[good] = False
                    matched += len(good)
                    self._emit(tpl, rows if len(good) == len(free) else rows[good], recs[good], stored[good], points)
            return matched

        for layout in list(layouts.values()):
            match(layout, layout.templates)
        misses = cursor = 0
        while (i := _next_true(free, cursor)) >= 0:
            cursor = i + 1
            free[i] = False
            learn = misses < _MAX_MISSES and run.n_templates < _MAX_TEMPLATES
            made = self._decode_one(run, path, buf, int(pays[i]), n, int(stored[i]), int(recs[i]), points, learn)
            if made is not None:
                tpl, layout = made
                if match(layout, [tpl]) == 0:
                    misses += 1

    def _emit(self, tpl: _Template, rows: np.ndarray, recs: np.ndarray, stored: np.ndarray, points: _Points) -> None:
        """Decode ``rows`` (records ``recs``) that match ``tpl``: check their CRC, then slice out the numbers."""
        crc = np.full(len(rows), tpl.crc, dtype=np.uint32)
        for table, pos in zip(tpl.crc_tables, tpl.var_pos.tolist(), strict=True):
            crc ^= np.take(table, rows[:, pos])
        ok = _mask_crc(crc) == stored
        if not ok.all():
            self._skipped += int(len(ok) - ok.sum())
            rows, recs = rows[ok], recs[ok]
        m = len(rows)
        if not m:
            return
        if tpl.wall_off >= 0:
            walls = rows[:, tpl.wall_off : tpl.wall_off + 8].view("<f8").ravel()
        else:
            walls = np.zeros(m)
        steps = np.zeros(m, dtype=np.uint64)
        for j in range(tpl.step_len):
            steps |= (rows[:, tpl.step_off + j] & np.uint8(0x7F)).astype(np.uint64) << np.uint64(7 * j)
        steps = steps.view(np.int64)
        keys = recs.astype(np.int64) << _ORDER_SHIFT
        for tag, off, fmt, position in tpl.points:
            values = rows[:, off : off + _FMT_SIZE[fmt]].view(fmt).ravel().astype(np.float64)
            points.add_block(tag, keys | position, steps, walls, values)
        self._other += tpl.n_other * m

    def _decode_one(
        self, run: _Run, path: str, buf: bytearray, p: int, n: int, stored: int, rec: int, points: _Points, learn: bool
    ) -> tuple[_Template, _Layout] | None:
        """Decode one record by hand; with ``learn``, make it a template when its kind can be one."""
        payload = bytes(buf[p : p + n])
        if _masked(google_crc32c.value(payload)) != stored:
            self._skipped += 1
            return None
        try:
            ev = _parse_event(payload)
        except (_Garbled, IndexError, ValueError, struct.error):
            self._skipped += 1
            return None
        key = rec << _ORDER_SHIFT
        if ev.file_version is not None:
            self._file_versions[path] = ev.file_version
        if ev.session_start:
            points.markers.append((key, ev.step))
        can_template = learn and not ev.repeated and ev.file_version is None and not ev.session_start
        template_points = []
        n_other = 0
        for position, value in enumerate(ev.values):
            position = min(position, (1 << _ORDER_SHIFT) - 1)
            if self._is_scalar(run, value):
                assert value.scalar is not None and value.scalar.value is not None
                points.add_one(value.tag, key | position, ev.step, ev.wall_time, value.scalar.value)
                if value.scalar.offset < 0:
                    can_template = False
                template_points.append((value.tag, value.scalar.offset, value.scalar.fmt, position))
            else:
                self._other += 1
                n_other += 1
                if value.tensor and value.plugin is None and value.tag not in run.plugins:
                    can_template = False  # its kind is decided by metadata that may come later
        if not can_template or not template_points:
            return None
        return self._make_template(run, payload, ev, template_points, n_other)

    @staticmethod
    def _is_scalar(run: _Run, value: _Value) -> bool:
        if value.simple:
            return True
        if not value.tensor:
            return False
        plugin = run.plugins.get(value.tag)
        if plugin is None and value.plugin is not None:
            plugin = run.plugins[value.tag] = value.plugin
        return plugin == "scalars" and value.scalar is not None and value.scalar.value is not None

    @staticmethod
    def _make_template(
        run: _Run, payload: bytes, ev: _Event, template_points: list[tuple[str, int, str, int]], n_other: int
    ) -> tuple[_Template, _Layout]:
        n = len(payload)
        width = (n + 7) // 8 * 8
        mask = np.zeros(width, dtype=np.uint8)
        mask[:n] = 0xFF
        if ev.wall_off >= 0:
            mask[ev.wall_off : ev.wall_off + 8] = 0
        if ev.step_len:
            mask[ev.step_off : ev.step_off + ev.step_len] = 0x80  # the continuation bits fix the varint's length
        for _tag, off, fmt, _position in template_points:
            mask[off : off + _FMT_SIZE[fmt]] = 0
        layouts = run.layouts.setdefault(n, {})
        layout = layouts.get(mask.tobytes())
        if layout is None:
            layout = layouts[mask.tobytes()] = _Layout(mask)
        padded = np.zeros(width, dtype=np.uint8)
        padded[:n] = np.frombuffer(payload, dtype=np.uint8)
        words = padded.view("<u8") & layout.mask
        var_pos = np.flatnonzero(mask[:n] != 0xFF)
        tpl = _Template(
            words=words,
            hash=layout.hash(words[None, :])[0],
            crc=google_crc32c.value(payload),
            var_pos=var_pos,
            crc_tables=_crc_tables()[(n - 1 - var_pos)[:, None], np.arange(256)[None, :] ^ padded[var_pos][:, None]],
            wall_off=ev.wall_off,
            step_off=ev.step_off,
            step_len=ev.step_len,
            points=template_points,
            n_other=n_other,
        )
        layout.templates.append(tpl)
        run.n_templates += 1
        return tpl, layout

    # -- merging --

    def _merge(self, run: _Run, points: _Points, touched: dict) -> None:
        """Append a chunk's points to the run's series, applying rewinds (see the module docstring)."""
        tags = points.tags()
        marker_keys = marker_steps = marker_min = None
        points.markers.sort()
        if points.markers and not run.seen_start:  # the run's first start is no restart
            run.seen_start = True
            del points.markers[0]
        if points.markers:
            marker_keys = np.array([k for k, _ in points.markers], dtype=np.int64)
            marker_steps = np.array([s for _, s in points.markers], dtype=np.int64)
            marker_min = np.minimum.accumulate(marker_steps[::-1])[::-1]  # lowest START step from each marker on
            tags |= set(run.series)
        for tag in sorted(tags):
            keys, steps, walls, values = points.arrays(tag)
            keep = np.ones(len(steps), dtype=bool)
            if len(steps) > 1:
                later = np.minimum.accumulate(steps[::-1])[::-1]
                keep[:-1] = steps[:-1] < later[1:]
            threshold = int(steps.min()) if len(steps) else None
            if marker_keys is not None:
                nxt = np.searchsorted(marker_keys, keys, side="right")
                has_later = nxt < len(marker_keys)
                keep &= ~(has_later & (steps >= marker_min[np.minimum(nxt, len(marker_keys) - 1)]))
                lowest = int(marker_min[0])
                threshold = lowest if threshold is None else min(threshold, lowest)
            buf = run.series.get(tag)
            if buf is None:
                if not keep.any():
                    continue
                buf = run.series[tag] = _Buffer()
            cut = buf.cut(threshold)
            if cut == buf.n and not keep.any():
                continue
            entry = touched.setdefault((run.name, tag), [buf.n, False])
            if buf.put(cut, steps[keep], walls[keep], values[keep]):
                entry[1] = True


def read_scalars(path: str | os.PathLike[str]) -> dict[str, dict[str, ScalarSeries]]:
    """Every scalar under ``path`` at once: run -> tag -> series."""
    reader = ScalarReader(path)
    reader.poll()
    return {run: {tag: reader.series(run, tag) for tag in tags} for run, tags in reader.runs().items()}


def export_csv(series: Iterable[ScalarSeries], file: str | os.PathLike[str] | IO[str]) -> int:
    """Write every point as ``run,tag,step,wall_time,value`` rows (with a header); returns the number of points.

    Floats are written in full (shortest round-trip form), so the file reads back to the same numbers.
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            return export_csv(series, fh)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(["run", "tag", "step", "wall_time", "value"])
    count = 0
    for s in series:
        n = len(s.steps)
        writer.writerows(
            zip([s.run] * n, [s.tag] * n, s.steps.tolist(), s.wall_times.tolist(), s.values.tolist(), strict=True)
        )
        count += n
    return count
