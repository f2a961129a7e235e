"""TensorFlow's tensor-bundle format as bytes -> records: the ``.index`` SSTable of ``BundleEntryProto`` and
CRC-checked scalars; the bytes come from the caller, which reads them through the storage seam."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ckptgui.formats.wire import DTYPE_NAMES, Damage, masked_crc32c, proto_fields, signed64, varint

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48  # two block handles padded to 40 bytes, then the magic number
_BLOCK_TRAILER = 5  # compression type byte + CRC


def _block_handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = varint(buf, pos)
    size, pos = varint(buf, pos)
    return offset, size, pos


def _block_records(table: bytes, offset: int, size: int) -> Iterator[tuple[bytes, bytes]]:
    if offset + size + _BLOCK_TRAILER > len(table) - _FOOTER_BYTES or size < 4:
        raise Damage("a block points past the end of the file (the file was cut short or overwritten)")
    if table[offset + size] != 0:
        raise Damage(f"compressed block (type {table[offset + size]}); only uncompressed indexes are read")
    block = table[offset : offset + size]
    restarts = int.from_bytes(block[-4:], "little")
    limit = size - 4 - 4 * restarts
    if limit < 0:
        raise Damage("a block's restart table is larger than the block")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_length, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + value_length > limit:
            raise Damage("a record in the index is malformed")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length


def _table_records(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB-format table, as TensorFlow's ``.index`` files are."""
    if not table:
        raise Damage("the .index file is empty (0 bytes): the save was interrupted or the file was emptied")
    if len(table) < _FOOTER_BYTES:
        raise Damage(f"the .index file is too short to be an index ({len(table)} bytes)")
    footer = table[-_FOOTER_BYTES:]
    if int.from_bytes(footer[-8:], "little") != _TABLE_MAGIC:
        raise Damage("the .index file is damaged (bad magic number: its end is missing or overwritten)")
    _, _, pos = _block_handle(footer, 0)  # the meta-index block: unused
    index_offset, index_size, _ = _block_handle(footer, pos)
    for _, handle in _block_records(table, index_offset, index_size):
        offset, size, _ = _block_handle(handle, 0)
        yield from _block_records(table, offset, size)


@dataclass(frozen=True)
class Entry:
    key: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int


@dataclass(frozen=True)
class Index:
    num_shards: int
    entries: dict[str, Entry]

    @property
    def format(self) -> str:
        return "tf2-object" if OBJECT_GRAPH_KEY in self.entries else "tf1-name"

    def shard_name(self, prefix_name: str, shard: int) -> str:
        return f"{prefix_name}.data-{shard:05d}-of-{self.num_shards:05d}"

    def bytes_needed(self) -> dict[int, int]:
        """Per shard, the file size the index needs: the end of its last tensor."""
        needed: dict[int, int] = {}
        for entry in self.entries.values():
            needed[entry.shard] = max(needed.get(entry.shard, 0), entry.offset + entry.size)
        return needed


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in proto_fields(buf):
        if number == 2 and isinstance(value, bytes):
            size = 0
            for dim_number, dim_value in proto_fields(value):
                if dim_number == 1 and isinstance(dim_value, int):
                    size = signed64(dim_value)
            dims.append(size)
    return tuple(dims)


def _parse_entry(key: str, buf: bytes) -> Entry:
    dtype = shard = offset = size = crc = 0
    shape: tuple[int, ...] = ()
    for number, value in proto_fields(buf):
        if number == 1:
            dtype = value
        elif number == 2 and isinstance(value, bytes):
            shape = _parse_shape(value)
        elif number == 3:
            shard = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 6:
            crc = value
    name = DTYPE_NAMES.get(int(dtype), f"dtype_{dtype}")
    return Entry(key, name, shape, int(shard), int(offset), int(size), int(crc))


def parse_index(table: bytes) -> Index:
    """The index of one checkpoint from the whole content of its ``.index`` file; raises :class:`Damage`."""
    num_shards = 1
    entries: dict[str, Entry] = {}
    for raw_key, value in _table_records(table):
        if not raw_key:  # the BundleHeaderProto
            for number, field_value in proto_fields(value):
                if number == 1 and isinstance(field_value, int):
                    num_shards = field_value
                elif number == 2 and field_value:
                    raise Damage("the checkpoint was written big-endian; only little-endian is read")
            continue
        if raw_key[:1] == b"\x00":  # a slice of a partitioned variable; its full entry is listed too
            continue
        key = raw_key.decode("utf-8", "backslashreplace")
        entries[key] = _parse_entry(key, value)
    if num_shards < 1:
        raise Damage(f"the index header names {num_shards} data shards")
    return Index(num_shards, entries)


_NUMERIC_SCALARS = {"int64": "<q", "int32": "<i", "float32": "<f", "float64": "<d", "uint64": "<Q"}


def is_numeric_scalar(entry: Entry) -> bool:
    """Whether :func:`decode_scalar` reads this entry: a scalar of a small numeric dtype."""
    return entry.shape == () and entry.dtype in _NUMERIC_SCALARS


def decode_scalar(entry: Entry, data: bytes) -> int | float:
    """A numeric scalar from its stored bytes, CRC-checked as TensorFlow would."""
    if masked_crc32c(data) != entry.crc32c:
        raise Damage(f"{entry.key}: checksum does not match")
    return struct.unpack(_NUMERIC_SCALARS[entry.dtype], data)[0]


def decode_string_scalar(entry: Entry, data: bytes) -> bytes:
    """A scalar string tensor as the bundle stores it: varint length, masked CRC of the length, the bytes.

    The entry's CRC covers the length (little-endian uint32 below 4 GiB, uint64 above), the 4 CRC bytes, the string.
    """
    length, pos = varint(data, 0)
    value = data[pos + 4 : pos + 4 + length]
    covered = length.to_bytes(4 if length <= 0xFFFFFFFF else 8, "little") + data[pos : pos + 4] + value
    if len(value) != length or masked_crc32c(covered) != entry.crc32c:
        raise Damage(f"{entry.key}: checksum does not match")
    return value
