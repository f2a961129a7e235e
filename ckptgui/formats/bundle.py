"""TensorFlow's tensor-bundle format as bytes -> records: the ``.index`` SSTable of ``BundleEntryProto``, the
CRC check of each stored tensor and CRC-checked scalars; the bytes come from the caller, which reads them through
the storage seam."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import google_crc32c

if TYPE_CHECKING:  # verify hands numpy buffers in; listing never imports numpy (40 ms)
    import numpy as np

from ckptgui.formats.wire import (
    DTYPE_FORMATS,
    DTYPE_NAMES,
    Damage,
    field_spans,
    mask,
    masked_crc32c,
    proto_fields,
    signed64,
    varint,
)

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# The largest ``.index`` file read, and the most entries taken from one. TensorFlow writes 60-100 bytes per tensor,
# so 16 MiB is some 200,000 tensors (a large language model has a few thousand); a larger file is refused unread,
# and a forged one whose prefix-compressed records are a few bytes each stops at MAX_ENTRIES, so that no index can
# take more than about 100 MB of the reader's memory.
MAX_INDEX_BYTES = 16 << 20
MAX_ENTRIES = 250_000

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
        shared, unshared, value_length = block[pos : pos + 3]  # one byte each, the common case: decoded inline
        if shared | unshared | value_length < 0x80 and pos + 3 <= limit:
            pos += 3
        else:
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


class Entry(NamedTuple):
    """One ``BundleEntryProto``: where a tensor's bytes are and their CRC (a tuple: an index parse builds many)."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int
    partitioned: bool = False  # its data is stored in slice entries (see Index.slices), none under this key
    extent: tuple[tuple[int, int], ...] = ()  # a slice's (start, length) in each dimension of its variable


@dataclass(frozen=True)
class Index:
    num_shards: int
    entries: dict[str, Entry]  # the tensors a reader lists: every key but the slices
    slices: tuple[Entry, ...] = ()  # the pieces of partitioned variables, each keyed by its variable's name

    def stored(self) -> list[Entry]:
        """Every entry whose bytes lie in a data shard, slices included: what a full verification reads."""
        return [entry for entry in self.entries.values() if not entry.partitioned] + list(self.slices)

    @property
    def format(self) -> str:
        return "tf2-object" if OBJECT_GRAPH_KEY in self.entries else "tf1-name"

    def shard_name(self, prefix_name: str, shard: int) -> str:
        return f"{prefix_name}.data-{shard:05d}-of-{self.num_shards:05d}"

    def bytes_needed(self) -> dict[int, int]:
        """Per shard, the file size the index needs: the end of its last tensor."""
        needed: dict[int, int] = {}
        for entry in self.stored():
            needed[entry.shard] = max(needed.get(entry.shard, 0), entry.offset + entry.size)
        return needed


def _message_fields(buf: bytes) -> dict[int, int | bytes]:
    """The last value of each field of a small message: an int, or bytes when length-delimited (an index parse runs
    on every scan: one pass over :func:`field_spans`, without the per-field generator of ``proto_fields``)."""
    return {
        number: value if wire == 0 else buf[start:stop] if wire == 2 else int.from_bytes(buf[start:stop], "little")
        for number, wire, start, stop, value in field_spans(buf)
    }


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    """A ``TensorShapeProto``: the size of each ``dim`` (field 2, repeated; its size is field 1, an int64)."""
    return tuple(
        signed64(size) if isinstance(size := _message_fields(value).get(1, 0), int) else 0
        for number, value in proto_fields(buf)
        if number == 2 and isinstance(value, bytes)
    )


def _parse_entry(key: str, buf: bytes) -> Entry:
    fields = _message_fields(buf)
    dtype, shape = fields.get(1, 0), fields.get(2, b"")
    shard, offset, size, crc = (fields.get(number, 0) for number in (3, 4, 5, 6))
    if not all(isinstance(value, int) for value in (dtype, shard, offset, size, crc)) or not isinstance(shape, bytes):
        raise Damage(f"the index entry of {key} is malformed")
    return Entry(
        key,
        DTYPE_NAMES.get(dtype, f"dtype_{dtype}"),
        _parse_shape(shape) if shape else (),
        shard,
        offset,
        size,
        crc,
        7 in fields,  # slices: the data is stored under slice keys
    )


_ORDERED_CODE_ESCAPE = re.compile(b"\x00\xff|\xff\x00")


def _sliced_variable(raw_key: bytes) -> str:
    """The variable a slice belongs to, the key of its slice entries.

    TensorFlow's ``EncodeTensorNameSlice`` writes a zero byte, the name in OrderedCode (a zero byte escaped as
    ``00 ff``, ``ff`` as ``ff 00``, the end marked by ``00 01``), then the slice's extents.
    """
    name = raw_key[1:].split(b"\x00\x01", 1)[0]
    return _ORDERED_CODE_ESCAPE.sub(lambda escaped: escaped[0][:1], name).decode("utf-8", "backslashreplace")


def _signed_increasing(raw: bytes, pos: int) -> tuple[int, int]:
    """OrderedCode's ``WriteSignedNumIncreasing``: the big-endian two's complement in n bytes, its first bits
    flipped to n ones (a positive number) or n zeros (a negative one) that give n."""
    if pos >= len(raw):
        raise Damage("a slice key ends inside its extents")
    flip = 0 if raw[pos] & 0x80 else 0xFF
    head = (raw[pos] ^ flip) << 8 | ((raw[pos + 1] ^ flip) if pos + 1 < len(raw) else 0)
    length = 0
    while length < 10 and head & (0x8000 >> length):
        length += 1
    if not 1 <= length <= 10 or pos + length > len(raw):
        raise Damage("a slice key's extents are malformed")
    header = ((0xFFFF << (16 - length)) & 0xFFFF).to_bytes(2, "big")
    value = bytearray(raw[pos : pos + length])
    value[0] ^= header[0]
    if length > 1:
        value[1] ^= header[1]
    return int.from_bytes(value, "big", signed=True), pos + length


def _slice_extent(raw_key: bytes) -> tuple[tuple[int, int], ...]:
    """(start, length) in each dimension of the variable, from a slice key (after its name: the rank as
    ``WriteNumIncreasing``, then start and length per dimension, length -1 for the whole dimension)."""
    pos = raw_key.index(b"\x00\x01", 1) + 2
    width = raw_key[pos] if pos < len(raw_key) else 0
    rank, pos = int.from_bytes(raw_key[pos + 1 : pos + 1 + width], "big"), pos + 1 + width
    if rank > MAX_RANK:
        raise Damage(f"a slice key names {rank} dimensions")
    extent = []
    for _ in range(rank):
        start, pos = _signed_increasing(raw_key, pos)
        length, pos = _signed_increasing(raw_key, pos)
        extent.append((start, length))
    return tuple(extent)


# TensorFlow's own limits (``TensorShape::MaxDimensions``, int64 element counts): an entry beyond them makes its
# reader abort the whole process (a C++ CHECK), so no such entry may reach it.
MAX_RANK = 254
MAX_ELEMENTS = (1 << 63) - 1


def _check_header(entry: Entry) -> None:
    """Refuse an entry TensorFlow's reader would abort on, or whose stored size cannot be its tensor's; raises
    :class:`Damage` naming the entry. Run on every entry of every parse, before any reader sees it."""
    if entry.dtype not in _KNOWN_DTYPES:
        code = entry.dtype.removeprefix("dtype_")
        raise Damage(f"the index entry of {entry.key} has an unknown dtype ({code}); the index is damaged or forged")
    if len(entry.shape) > MAX_RANK:
        raise Damage(f"the index entry of {entry.key} has {len(entry.shape):,} dimensions (at most {MAX_RANK})")
    if any(size < 0 for size in entry.shape):
        raise Damage(f"the index entry of {entry.key} has a negative dimension: {list(entry.shape)}")
    count = math.prod(entry.shape)
    if count > MAX_ELEMENTS:
        raise Damage(f"the index entry of {entry.key} has an impossible shape ({count:.3g} elements)")
    if entry.partitioned:
        return  # its bytes are in its slices, each checked on its own
    item = _ITEM_BYTES.get(entry.dtype)
    if item is not None and entry.size != item * count:
        raise Damage(f"the index gives {entry.size} bytes for a {entry.dtype} tensor of shape {list(entry.shape)}")
    if entry.dtype in _LENGTH_PREFIXED and count and entry.size and entry.size < count:
        raise Damage(f"the index gives {entry.size} bytes for {count:,} {entry.dtype} elements")


def parse_index(table: bytes) -> Index:
    """The index of one checkpoint from the whole content of its ``.index`` file; raises :class:`Damage`.

    Every entry is checked (:func:`_check_header`): what comes back is safe to hand to TensorFlow's reader.
    """
    num_shards = 1
    entries: dict[str, Entry] = {}
    slices: list[Entry] = []
    for count, (raw_key, value) in enumerate(_table_records(table)):
        if count > MAX_ENTRIES:
            raise Damage(f"the index holds over {MAX_ENTRIES:,} entries: forged or damaged, not read further")
        if not raw_key:  # the BundleHeaderProto
            for number, field_value in proto_fields(value):
                if number == 1 and isinstance(field_value, int):
                    num_shards = field_value
                elif number == 2 and field_value:
                    raise Damage("the checkpoint was written big-endian; only little-endian is read")
            continue
        if raw_key[:1] == b"\x00":  # a slice of a partitioned variable; its full entry is listed
            entry = _parse_entry(_sliced_variable(raw_key), value)
            entry = entry._replace(extent=_slice_extent(raw_key))
            slices.append(entry)
        else:
            key = raw_key.decode("utf-8", "backslashreplace")
            entry = entries[key] = _parse_entry(key, value)
        _check_header(entry)
    if num_shards < 1:
        raise Damage(f"the index header names {num_shards} data shards")
    return Index(num_shards, entries, tuple(slices))


# Stored tensors -------------------------------------------------------------------------------------------------

CHECKSUM_DAMAGE = "checksum does not match: the .data file is damaged (bit rot or a bad copy)"

# Bytes per element of the dtypes TensorFlow stores as raw memory; strings and variants are length-prefixed instead.
_ITEM_BYTES = {
    "float32": 4, "float64": 8, "int32": 4, "uint8": 1, "int16": 2, "int8": 1, "complex64": 8, "int64": 8,
    "bool": 1, "qint8": 1, "quint8": 1, "qint32": 4, "bfloat16": 2, "qint16": 2, "quint16": 2, "uint16": 2,
    "complex128": 16, "float16": 2, "uint32": 4, "uint64": 8, "float8_e5m2": 1, "float8_e4m3fn": 1,
    "float8_e4m3fnuz": 1, "float8_e4m3b11fnuz": 1, "float8_e5m2fnuz": 1,
}  # fmt: skip
# Stored with their own layout: length-prefixed elements (whose sizes are checked against the count), or packed
# sub-byte numbers (int4, int2, float4: no size rule is assumed for them).
_LENGTH_PREFIXED = ("string", "variant")


_KNOWN_DTYPES = frozenset(name for name in DTYPE_NAMES.values() if name != "resource")


def check_entry(entry: Entry, pieces: Iterable[bytes | np.ndarray]) -> None:
    """Check a stored tensor as TensorFlow's ``BundleReader`` does when it reads it; raises :class:`Damage`.

    ``pieces`` are the entry's bytes ``[offset, offset + size)`` of its shard, in order: one piece, or several
    consecutive ones for a tensor larger than one read (bytes, or read-only uint8 arrays: views cost no copy).
    Raw-memory dtypes: the size must match the shape and the CRC covers the bytes. Strings and variants are
    length-prefixed, with CRCs of their own inside (:func:`_string_crc`, :func:`_variant_crc`).
    """
    _check_header(entry)  # parse_index checked it already; an entry built elsewhere is checked here
    if entry.dtype in ("string", "variant"):
        if entry.size == 0:
            return  # TensorFlow reads nothing and checks nothing for an empty one
        data = b"".join(bytes(piece) for piece in pieces)
        if len(data) != entry.size:
            raise Damage(f"the .data file is truncated ({len(data)} of the tensor's {entry.size} bytes are there)")
        count = math.prod(entry.shape)
        crc = _string_crc(data, count) if entry.dtype == "string" else _variant_crc(data, count)
    else:
        crc = length = 0
        for piece in pieces:
            crc = google_crc32c.extend(crc, piece)
            length += len(piece)
        if length != entry.size:
            raise Damage(f"the .data file is truncated ({length} of the tensor's {entry.size} bytes are there)")
    if mask(crc) != entry.crc32c:
        raise Damage(CHECKSUM_DAMAGE)


def _length_bytes(length: int) -> bytes:
    """A string length as the CRCs cover it: little-endian uint32, uint64 from 4 GiB (older bundles had only uint32)."""
    return length.to_bytes(4 if length <= 0xFFFFFFFF else 8, "little")


def _string_crc(data: bytes, count: int) -> int:
    """The CRC of a string tensor of ``count`` elements.

    Stored as: each length as a varint, the masked CRC of the lengths (4 bytes), then the strings. The entry's CRC
    covers each length (:func:`_length_bytes`), those 4 CRC bytes, then the strings.
    """
    pos, total, covered = 0, 0, []
    for _ in range(count):
        length, pos = varint(data, pos)
        covered.append(_length_bytes(length))
        total += length
    crc = google_crc32c.value(b"".join(covered))
    stored = data[pos : pos + 4]
    if len(stored) < 4 or mask(crc) != int.from_bytes(stored, "little"):
        raise Damage(f"the string lengths' {CHECKSUM_DAMAGE}")
    strings = data[pos + 4 : pos + 4 + total]
    if len(strings) != total:
        raise Damage("the strings run past the end of the tensor's bytes")
    return google_crc32c.extend(google_crc32c.extend(crc, stored), strings)


def _variant_crc(data: bytes, count: int) -> int:
    """The CRC of a variant tensor (e.g. a dataset iterator's state).

    Stored per element: a varint length, the serialized ``VariantTensorDataProto``, the masked CRC of everything so
    far (4 bytes). The CRC covers each length as a little-endian uint64, the bytes, and the 4 CRC bytes.
    """
    pos, crc = 0, 0
    for _ in range(count):
        length, pos = varint(data, pos)
        value = data[pos : pos + length]
        stored = data[pos + length : pos + length + 4]
        if len(value) != length or len(stored) < 4:
            raise Damage("a variant runs past the end of the tensor's bytes")
        crc = google_crc32c.extend(google_crc32c.extend(crc, length.to_bytes(8, "little")), value)
        if mask(crc) != int.from_bytes(stored, "little"):
            raise Damage(f"a variant's {CHECKSUM_DAMAGE}")
        crc = google_crc32c.extend(crc, stored)
        pos += length + 4
    return crc


# Scalars read without TensorFlow ---------------------------------------------------------------------------------

_NUMERIC_SCALARS = {"int64": "<q", "int32": "<i", "float32": "<f", "float64": "<d", "uint64": "<Q"}


def is_numeric_scalar(entry: Entry) -> bool:
    """Whether :func:`decode_scalar` reads this entry: a scalar of a small numeric dtype."""
    return entry.shape == () and entry.dtype in _NUMERIC_SCALARS


def decode_scalar(entry: Entry, data: bytes) -> int | float:
    """A numeric scalar from its stored bytes, CRC-checked as TensorFlow would."""
    if masked_crc32c(data) != entry.crc32c:
        raise Damage(f"{entry.key}: checksum does not match")
    return struct.unpack(_NUMERIC_SCALARS[entry.dtype], data)[0]


# numpy's element format of each dtype stored as raw memory (quantized ones as their integers); bfloat16, which
# numpy lacks, is widened to float32 (it is the top half of one).
_ARRAY_FORMATS = {DTYPE_NAMES[code]: fmt for code, fmt in DTYPE_FORMATS.items()} | {
    "complex64": "<c8",
    "complex128": "<c16",
    "qint8": "<i1",
    "quint8": "<u1",
    "qint16": "<i2",
    "quint16": "<u2",
    "qint32": "<i4",
    "bfloat16": "<u2",
}


def numeric(dtype: str) -> bool:
    """Whether a stored dtype is numbers (what a diff computes norms of); strings and variants are not."""
    return dtype in _ARRAY_FORMATS


def decodable(dtype: str) -> bool:
    """Whether :func:`decode_array` decodes this dtype (variants, float8 and sub-byte types it does not)."""
    return dtype in _ARRAY_FORMATS or dtype == "string"


def decode_array(entry: Entry, data: bytes | np.ndarray) -> np.ndarray:
    """A stored tensor from its bytes, CRC-checked as TensorFlow's reader does; a view of ``data``, no copy
    (bfloat16 excepted: widened to float32). Strings come back as an object array of ``bytes``; variants (a
    dataset iterator's state) cannot be decoded without TensorFlow and raise ``ValueError`` after their check.
    """
    import numpy as np

    check_entry(entry, (data,))
    if entry.dtype == "string":
        return np.array(_strings(bytes(data), math.prod(entry.shape)), dtype=object).reshape(entry.shape)
    fmt = _ARRAY_FORMATS.get(entry.dtype)
    if fmt is None:
        raise ValueError(f"{entry.key}: {entry.dtype} tensors are decoded by TensorFlow only")
    array = np.frombuffer(data, fmt).reshape(entry.shape)
    if entry.dtype == "bfloat16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _strings(data: bytes, count: int) -> list[bytes]:
    """The elements of a string tensor whose CRCs were checked (see :func:`_string_crc` for the layout)."""
    lengths, pos = [], 0
    for _ in range(count):
        length, pos = varint(data, pos)
        lengths.append(length)
    pos += 4
    strings = []
    for length in lengths:
        strings.append(data[pos : pos + length])
        pos += length
    return strings


def decode_string_scalar(entry: Entry, data: bytes) -> bytes:
    """A scalar string tensor as the bundle stores it (see :func:`_string_crc`), CRC-checked."""
    try:
        matches = mask(_string_crc(data, 1)) == entry.crc32c
    except Damage:
        matches = False
    if not matches:
        raise Damage(f"{entry.key}: checksum does not match")
    length, pos = varint(data, 0)
    return data[pos + 4 : pos + 4 + length]
