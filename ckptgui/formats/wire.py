"""Protobuf wire primitives shared by every TensorFlow file format we read: varints, fields, masked CRC32C, DataType.

Each primitive exists once here; the checkpoint readers use the value-yielding :func:`proto_fields`, the event
reader the position-yielding :func:`field_spans` it is built on (it slices values out of its buffers itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import google_crc32c

if TYPE_CHECKING:  # numpy only for the annotation: listing a model_dir never loads it (40 ms)
    import numpy as np

Crc = TypeVar("Crc", int, "np.ndarray")


class Damage(Exception):
    """A file's content does not parse; the message says how, in a user's words."""


class Vanished(Damage):
    """The file was there a moment ago (a writer's sweep or rename)."""


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``buf[pos]`` and the position after it; at most 10 bytes (70 bits) as protobuf writes them."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise Damage("a record runs past the end of its block")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Damage("a varint is longer than 10 bytes")


def field_spans(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, value start, value end, varint) of each field of the message ``buf[start:end]``.

    A varint value spans its bytes, fixed64/fixed32 values their 8 or 4 bytes, length-delimited ones their
    payload; ``varint`` is the value of a varint field (decoded once, here), 0 for the other wire types.
    Field number 0 does not exist in protobuf (its own parser rejects it), so it marks garbage.
    """
    pos = start
    end = len(buf) if end is None else end
    while pos < end:
        tag = buf[pos]  # one-byte tags and lengths are the common case: decoded inline, for speed
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise Damage("a protobuf field has number 0")
        value = 0
        if wire == 0:
            if pos < end and buf[pos] < 0x80:
                value, stop = buf[pos], pos + 1
            else:
                value, stop = varint(buf, pos)
        elif wire == 2:
            if pos < end and buf[pos] < 0x80:
                length, pos = buf[pos], pos + 1
            else:
                length, pos = varint(buf, pos)
            stop = pos + length
        elif wire == 5:
            stop = pos + 4
        elif wire == 1:
            stop = pos + 8
        else:
            raise Damage(f"unexpected protobuf wire type {wire}")
        if stop > end:
            raise Damage("a protobuf field runs past the end of its record")
        yield number, wire, pos, stop, value
        pos = stop


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field of a serialized protobuf message: an int, or bytes when length-delimited."""
    for number, wire, start, stop, value in field_spans(buf):
        if wire == 0:
            yield number, value
        elif wire == 2:
            yield number, buf[start:stop]
        else:
            yield number, int.from_bytes(buf[start:stop], "little")


def signed64(value: int) -> int:
    """An int64 field from its varint: the low 64 bits as two's complement (protobuf drops the rest)."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >> 63 else value


MASK_DELTA = 0xA282EAD8


def mask(crc: Crc) -> Crc:
    """TensorFlow's "masked" CRC32C (rotated right by 15 bits, plus a constant) of a CRC: an int or a uint32 array.

    TFRecords and tensor bundles store masked CRCs so that a CRC of data holding CRCs stays well distributed.
    """
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` as TensorFlow stores it in checkpoints and event files."""
    return mask(google_crc32c.value(data))


BFLOAT16 = 14

DATA_TYPES: dict[int, tuple[str, str | None]] = {
    # TensorFlow's DataType enum -> (name, numpy format of one element in a TensorProto's tensor_content).
    # The format is None where numpy has no plain number type for it; bfloat16 is the top half of a float32.
    1: ("float32", "<f4"),
    2: ("float64", "<f8"),
    3: ("int32", "<i4"),
    4: ("uint8", "<u1"),
    5: ("int16", "<i2"),
    6: ("int8", "<i1"),
    7: ("string", None),
    8: ("complex64", None),
    9: ("int64", "<i8"),
    10: ("bool", "?"),
    11: ("qint8", None),
    12: ("quint8", None),
    13: ("qint32", None),
    BFLOAT16: ("bfloat16", None),
    15: ("qint16", None),
    16: ("quint16", None),
    17: ("uint16", "<u2"),
    18: ("complex128", None),
    19: ("float16", "<f2"),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", "<u4"),
    23: ("uint64", "<u8"),
    24: ("float8_e5m2", None),
    25: ("float8_e4m3fn", None),
    26: ("float8_e4m3fnuz", None),
    27: ("float8_e4m3b11fnuz", None),
    28: ("float8_e5m2fnuz", None),
    29: ("int4", None),
    30: ("uint4", None),
    31: ("int2", None),
    32: ("uint2", None),
    33: ("float4_e2m1fn", None),
}
DTYPE_NAMES = {code: name for code, (name, _) in DATA_TYPES.items()}
DTYPE_FORMATS = {code: fmt for code, (_, fmt) in DATA_TYPES.items() if fmt is not None}
