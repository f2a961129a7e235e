"""Writes ``.index`` files byte by byte, as TensorFlow lays them out (a LevelDB table of ``BundleEntryProto``), with
any entry a forger likes: unknown dtypes, negative or absurd dimensions, sizes and offsets that lie.

TensorFlow reads what this writes (block CRCs, footer, header version), so a test can show what its reader does
with each forged entry.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import google_crc32c

from ckptgui.formats.bundle import Entry
from ckptgui.formats.wire import DTYPE_NAMES, mask

DTYPE_CODES = {name: code for code, name in DTYPE_NAMES.items()}
MAGIC = 0xDB4775248B80FB57


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 fields: two's complement, as protobuf writes a negative number
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    return varint(number << 3) + varint(value)


def entry_proto(dtype: int | str, shape: Iterable[int], offset: int, size: int, crc: int, shard: int = 0) -> bytes:
    """A ``BundleEntryProto``; ``dtype`` by name or by DataType number (an unknown one too)."""
    code = DTYPE_CODES[dtype] if isinstance(dtype, str) else dtype
    dims = b"".join(field(2, field(1, size_of_dim)) for size_of_dim in shape)
    return (
        field(1, code)
        + field(2, dims)
        + (field(3, shard) if shard else b"")
        + field(4, offset)
        + field(5, size)
        + varint(6 << 3 | 5)
        + struct.pack("<I", crc)
    )


def header_proto(num_shards: int = 1) -> bytes:
    return field(1, num_shards) + field(3, field(1, 1))  # num_shards, version { producer: 1 }


def _block(records: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(varint(0) + varint(len(key)) + varint(len(value)) + key + value for key, value in records)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def _with_trailer(block: bytes) -> bytes:
    return block + b"\0" + struct.pack("<I", mask(google_crc32c.value(block + b"\0")))


def table(records: list[tuple[bytes, bytes]]) -> bytes:
    """A one-data-block table of sorted ``(key, value)`` records."""
    data = _block(sorted(records))
    out = _with_trailer(data)
    meta = _block([])
    meta_handle = varint(len(out)) + varint(len(meta))
    out += _with_trailer(meta)
    last_key = max(key for key, _ in records)
    index = _block([(last_key, varint(0) + varint(len(data)))])
    index_handle = varint(len(out)) + varint(len(index))
    out += _with_trailer(index)
    footer = (meta_handle + index_handle).ljust(40, b"\0") + struct.pack("<Q", MAGIC)
    return out + footer


def forge(prefix: Path, entries: dict[str, bytes], num_shards: int = 1) -> None:
    """Write ``prefix.index`` with these entries (raw key -> ``BundleEntryProto`` bytes) and a header."""
    records = [(b"", header_proto(num_shards))] + [(key.encode(), value) for key, value in entries.items()]
    Path(f"{prefix}.index").write_bytes(table(records))


def as_proto(entry: Entry) -> bytes:
    """The proto of an entry as parsed (partitioned variables' slices are not written back)."""
    return entry_proto(entry.dtype, entry.shape, entry.offset, entry.size, entry.crc32c, entry.shard)
