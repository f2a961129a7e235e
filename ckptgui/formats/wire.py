"""Protobuf wire primitives shared by every TensorFlow file format we read: varints, fields, masked CRC32C, DataType."""

from __future__ import annotations

from collections.abc import Iterator

import google_crc32c


class Damage(Exception):
    """A file's content does not parse; the message says how, in a user's words."""


class Vanished(Damage):
    """The file was there a moment ago (a writer's sweep or rename)."""


def varint(buf: bytes, pos: int) -> tuple[int, int]:
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


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field of a serialized protobuf message."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        else:
            raise Damage(f"unexpected protobuf wire type {wire}")
        if pos > end:
            raise Damage("a protobuf field runs past the end of its record")
        yield number, value


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def masked_crc32c(data: bytes) -> int:
    """CRC-32C as TensorFlow stores it in checkpoints: rotated and offset ("masked")."""
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


DTYPE_NAMES = {  # TensorFlow's DataType enum
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    8: "complex64",
    9: "int64",
    10: "bool",
    11: "qint8",
    12: "quint8",
    13: "qint32",
    14: "bfloat16",
    15: "qint16",
    16: "quint16",
    17: "uint16",
    18: "complex128",
    19: "float16",
    20: "resource",
    21: "variant",
    22: "uint32",
    23: "uint64",
}
