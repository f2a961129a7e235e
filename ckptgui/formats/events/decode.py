"""One ``Event`` proto decoded by hand: the parts that matter for scalars, and where they lie in the payload.

Scalars come in two encodings: TF1 ``Summary.Value.simple_value`` and TF2 ``Summary.Value.tensor`` (a
one-element tensor, float/double/half/bfloat16/int/bool) whose summary metadata names the ``scalars`` plugin.
Besides the numbers, the decoding records the offsets of the bytes that vary between records of one kind
(wall time, step varint, fixed-width values), which is what a template is made of. Malformed bytes raise
:class:`~ckptgui.formats.wire.Damage` (or ``IndexError``, ``ValueError``, ``struct.error``: see :data:`GARBLED`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ckptgui.formats.wire import BFLOAT16, DTYPE_FORMATS, Damage, field_spans, signed64, varint

GARBLED = (Damage, IndexError, ValueError, struct.error)  # what decoding a malformed payload may raise
SESSION_START = 1  # SessionLog.START
FMT_SIZE = {"<f4": 4, "<f8": 8}  # formats a template can slice out of a record
_VARINT_VALUE_FIELDS = {7, 10, 11, 13, 16, 17}  # int_val, int64_val, bool_val, half_val, uint32_val, uint64_val


def _half_bits(bits: int, dtype: int) -> float:
    if dtype == BFLOAT16:
        return float(np.array([bits << 16], dtype=np.uint32).view(np.float32)[0])
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


@dataclass
class TensorScalar:
    value: float | None  # None: not a one-element tensor of a numeric type
    offset: int = -1  # of the value bytes when they are fixed width (float/double), else -1
    fmt: str = ""


def _tensor_scalar(b: bytes, start: int, end: int) -> TensorScalar:
    dtype = 0
    elements = 1
    content: tuple[int, int] | None = None
    typed: list[tuple[int, int, int, int]] = []
    for number, wire, s, e, value in field_spans(b, start, end):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            for dnum, dwire, ds, de, dvalue in field_spans(b, s, e):
                if dnum == 2 and dwire == 2:
                    size = 1
                    for snum, swire, _ss, _se, svalue in field_spans(b, ds, de):
                        if snum == 1 and swire == 0:
                            size = signed64(svalue)
                    elements *= size
                elif dnum == 3 and dwire == 0 and dvalue:
                    elements = -1  # unknown rank
        elif number == 4 and wire == 2:
            content = (s, e)
        elif number in (5, 6) or number in _VARINT_VALUE_FIELDS:
            typed.append((number, wire, s, e))
    fmt = DTYPE_FORMATS.get(dtype)
    if elements != 1 or (fmt is None and dtype != BFLOAT16):
        return TensorScalar(None)
    if content is not None and content[1] > content[0]:
        s, e = content
        if fmt is None:  # bfloat16
            return TensorScalar(_half_bits(int.from_bytes(b[s:e], "little"), BFLOAT16) if e - s == 2 else None)
        if np.dtype(fmt).itemsize != e - s:
            return TensorScalar(None)
        value = float(np.frombuffer(b, dtype=fmt, count=1, offset=s)[0])
        return TensorScalar(value, s, fmt) if fmt in FMT_SIZE else TensorScalar(value)
    if len(typed) != 1:
        return TensorScalar(None)
    number, wire, s, e = typed[0]
    if number == 5 and ((wire == 2 and e - s == 4) or wire == 5):
        return TensorScalar(struct.unpack_from("<f", b, s)[0], s, "<f4")
    if number == 6 and ((wire == 2 and e - s == 8) or wire == 1):
        return TensorScalar(struct.unpack_from("<d", b, s)[0], s, "<f8")
    if number in _VARINT_VALUE_FIELDS and wire in (0, 2):
        raw, j = varint(b, s)
        if wire == 2 and j != e:
            return TensorScalar(None)
        if number == 13:
            return TensorScalar(_half_bits(raw & 0xFFFF, dtype))
        if number in (16, 17):
            return TensorScalar(float(raw))
        return TensorScalar(float(signed64(raw)))
    return TensorScalar(None)


@dataclass
class Value:
    """One ``Summary.Value``."""

    tag: str
    scalar: TensorScalar | None  # the value when it is a number that could be a scalar
    simple: bool  # TF1 simple_value (always a scalar)
    plugin: str | None  # plugin name from this value's own metadata, None without metadata
    tensor: bool


@dataclass
class Event:
    """The parts of one ``Event`` the scalar reader uses, with the offsets a template needs."""

    wall_time: float = 0.0
    wall_off: int = -1
    step: int = 0
    step_off: int = -1
    step_len: int = 0
    repeated: bool = False  # wall_time or step given twice: decoded right, but no template
    file_version: str | None = None
    session_start: bool = False
    values: list[Value] = field(default_factory=list)


def _plugin_name(b: bytes, start: int, end: int) -> str:
    name = ""
    for number, wire, s, e, _ in field_spans(b, start, end):
        if number == 1 and wire == 2:
            for pnum, pwire, ps, pe, _ in field_spans(b, s, e):
                if pnum == 1 and pwire == 2:
                    name = b[ps:pe].decode("utf-8", "replace")
    return name


def _parse_value(b: bytes, start: int, end: int) -> Value:
    tag = ""
    simple: tuple[int, int] | None = None
    tensor: tuple[int, int] | None = None
    plugin: str | None = None
    for number, wire, s, e, _ in field_spans(b, start, end):
        if number == 1 and wire == 2:
            tag = b[s:e].decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            simple = (s, e)
        elif number == 8 and wire == 2:
            tensor = (s, e)
        elif number == 9 and wire == 2:
            plugin = _plugin_name(b, s, e)
    if simple is not None:
        value = TensorScalar(struct.unpack_from("<f", b, simple[0])[0], simple[0], "<f4")
        return Value(tag, value, True, plugin, False)
    if tensor is not None:
        return Value(tag, _tensor_scalar(b, *tensor), False, plugin, True)
    return Value(tag, None, False, plugin, False)


def parse_event(b: bytes) -> Event:
    """Decode the parts of an Event that matter here; raises one of :data:`GARBLED` on malformed bytes."""
    ev = Event()
    seen: set[int] = set()
    for number, wire, s, e, value in field_spans(b, 0, len(b)):
        if number in (1, 2) and number in seen:
            ev.repeated = True
        seen.add(number)
        if number == 1 and wire == 1:
            ev.wall_time = struct.unpack_from("<d", b, s)[0]
            ev.wall_off = s
        elif number == 2 and wire == 0:
            ev.step = signed64(value)
            ev.step_off, ev.step_len = s, e - s
        elif number == 3 and wire == 2:
            ev.file_version = b[s:e].decode("utf-8", "replace")
        elif number == 5 and wire == 2:
            ev.values.extend(
                _parse_value(b, vs, ve) for vnum, vwire, vs, ve, _ in field_spans(b, s, e) if vnum == 1 and vwire == 2
            )
        elif number == 7 and wire == 2:
            for lnum, lwire, _ls, _le, status in field_spans(b, s, e):
                if lnum == 1 and lwire == 0 and status == SESSION_START:
                    ev.session_start = True
    return ev
