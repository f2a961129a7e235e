"""Read-only view of any TensorFlow model_dir: which checkpoints it holds, whether they are healthy, what is in them.

Listing (:func:`scan`, :func:`list_variables`, :func:`global_step`) never
imports TensorFlow. A checkpoint's ``.index`` is a small SSTable of
``BundleEntryProto`` records (name, dtype, shape, shard, offset, size, CRC),
parsed here directly: that keeps ``ckptgui inspect`` and the window's
directory view instant (``import tensorflow`` alone takes 2-3 s and, in a
worker thread, freezes the window), and it lets each kind of damage be named
precisely — including a truncated ``.data`` file, which TensorFlow only
notices when the tensor is read. Reading tensor data (:func:`read_tensor`,
:func:`verify`, :func:`diff`) goes through TensorFlow's own checkpoint
reader, which checks every tensor's CRC: exactly what a restore would see.

Nothing here writes to or deletes from the directory it reads.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import google_crc32c

from ckptgui.core.config import OPTIMIZER_SLOTS
from ckptgui.core.statefile import STATE_FILENAME, StateFileError, read_state

if TYPE_CHECKING:  # numpy is imported where tensors are read: listing stays light
    import numpy as np

FORMATS = ("tf2-object", "tf1-name", "keras-h5", "mixed", "empty")
STATUSES = ("ok", "incomplete", "corrupt", "missing", "unlisted")
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
SLOT_MARK = "/.OPTIMIZER_SLOT/"
EVENTS_PREFIX = "events.out.tfevents."
H5_SUFFIX = ".weights.h5"
GLOBAL_STEP_NAMES = ("global_step", "step", "optimizer/iterations", "optimizer/_iterations", "optimizer/iter")


class CheckpointError(ValueError):
    """A path that is not a readable checkpoint; the message names the path and what is wrong."""


# Results ---------------------------------------------------------------------------------------------


@dataclass
class VariableInfo:
    """One stored variable; ``name`` reads as the network (``dnn/hiddenlayer_0/kernel``), ``key`` is the raw key."""

    name: str
    key: str
    shape: list[int]
    dtype: str
    size: int  # elements
    nbytes: int  # bytes stored
    slots: dict[str, VariableInfo] = field(default_factory=dict)  # optimizer state, by slot name


@dataclass
class CheckpointInfo:
    """One checkpoint of a model_dir; ``prefix`` is what TensorFlow restores from (or the ``.weights.h5`` path)."""

    step: int | None
    prefix: str
    files: list[str]  # relative to the model_dir
    total_bytes: int
    mtime: float
    status: str  # one of STATUSES
    reason: str = ""  # why the status is not ok; empty when it is
    listed: bool = False  # named in the ``checkpoint`` state file
    format: str = ""  # "tf2-object" | "tf1-name" | "keras-h5" | "" (unreadable)

    @property
    def usable(self) -> bool:
        """Healthy as far as is known: ``ok``, or ``unlisted`` (fine, just not in the state file)."""
        return self.status in ("ok", "unlisted")


@dataclass
class ModelDirInfo:
    path: str
    format: str  # one of FORMATS
    checkpoints: list[CheckpointInfo]
    latest_step: int | None  # what the state file's model_checkpoint_path names
    restore_step: int | None  # the newest healthy checkpoint: what a restore of "latest" should use
    event_runs: list[str]  # folders (relative, "." for the top) holding events files
    problems: list[str]

    def checkpoint(self, step: int) -> CheckpointInfo | None:
        return next((c for c in self.checkpoints if c.step == step), None)

    @property
    def restore_checkpoint(self) -> CheckpointInfo | None:
        usable = [c for c in self.checkpoints if c.status == "ok"] or [c for c in self.checkpoints if c.usable]
        return usable[-1] if usable else None


@dataclass
class InferredNetwork:
    """The DNN a checkpoint holds, read from the shapes of ``dnn/hiddenlayer_N/kernel`` and ``dnn/logits/kernel``."""

    hidden_units: list[int]
    n_features: int
    n_classes: int
    single_logit: bool = False  # Estimator's binary head: one logit, sigmoid
    optimizer_slots: list[str] = field(default_factory=list)

    @property
    def optimizer(self) -> str | None:
        """The optimizer the slots point to (Adagrad, Adam, RMSprop, SGD for none), None when unclear."""
        held = set(self.optimizer_slots)
        return next((name for name, slots in OPTIMIZER_SLOTS.items() if set(slots) == held), None)


@dataclass
class VariableDiff:
    name: str
    in_a: bool
    in_b: bool
    shape_a: list[int] | None
    shape_b: list[int] | None
    dtype_a: str | None
    dtype_b: str | None
    norm_a: float | None = None
    norm_b: float | None = None
    delta_l2: float | None = None  # L2 norm of B - A
    max_abs_delta: float | None = None
    relative_change: float | None = None  # delta_l2 / norm_a
    cosine: float | None = None
    note: str = ""


@dataclass
class LayerDiff:
    name: str  # the variable's parent path, e.g. dnn/hiddenlayer_0
    delta_l2: float
    relative_change: float | None


@dataclass
class DiffReport:
    a: str
    b: str
    variables: list[VariableDiff]
    layers: list[LayerDiff]  # most moved first
    summary: str
    bytes_read: int
    seconds: float


# Wire formats: varints, protobuf fields, CRC32C, SSTable ------------------------------------------------


class _Damage(Exception):
    """A file's content does not parse; the message says how, in a user's words."""


class _Vanished(_Damage):
    """The file was there a moment ago (a writer's sweep or rename)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _Damage("a record runs past the end of its block")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Damage("a varint is longer than 10 bytes")


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field of a serialized protobuf message."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        else:
            raise _Damage(f"unexpected protobuf wire type {wire}")
        if pos > end:
            raise _Damage("a protobuf field runs past the end of its record")
        yield number, value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _masked_crc32c(data: bytes) -> int:
    """CRC-32C as TensorFlow stores it in checkpoints: rotated and offset ("masked")."""
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48  # two block handles padded to 40 bytes, then the magic number
_BLOCK_TRAILER = 5  # compression type byte + CRC


def _block_handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _block_records(table: bytes, offset: int, size: int) -> Iterator[tuple[bytes, bytes]]:
    if offset + size + _BLOCK_TRAILER > len(table) - _FOOTER_BYTES or size < 4:
        raise _Damage("a block points past the end of the file (the file was cut short or overwritten)")
    if table[offset + size] != 0:
        raise _Damage(f"compressed block (type {table[offset + size]}); only uncompressed indexes are read")
    block = table[offset : offset + size]
    restarts = int.from_bytes(block[-4:], "little")
    limit = size - 4 - 4 * restarts
    if limit < 0:
        raise _Damage("a block's restart table is larger than the block")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_length > limit:
            raise _Damage("a record in the index is malformed")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length


def _table_records(table: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB-format table, as TensorFlow's ``.index`` files are."""
    if not table:
        raise _Damage("the .index file is empty (0 bytes): the save was interrupted or the file was emptied")
    if len(table) < _FOOTER_BYTES:
        raise _Damage(f"the .index file is too short to be an index ({len(table)} bytes)")
    footer = table[-_FOOTER_BYTES:]
    if int.from_bytes(footer[-8:], "little") != _TABLE_MAGIC:
        raise _Damage("the .index file is damaged (bad magic number: its end is missing or overwritten)")
    _, _, pos = _block_handle(footer, 0)  # the meta-index block: unused
    index_offset, index_size, _ = _block_handle(footer, pos)
    for _, handle in _block_records(table, index_offset, index_size):
        offset, size, _ = _block_handle(handle, 0)
        yield from _block_records(table, offset, size)


# The checkpoint index ------------------------------------------------------------------------------------

_DTYPES = {  # TensorFlow's DataType enum
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


@dataclass(frozen=True)
class _Entry:
    key: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int


@dataclass(frozen=True)
class _Index:
    num_shards: int
    entries: dict[str, _Entry]

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
    for number, value in _proto_fields(buf):
        if number == 2 and isinstance(value, bytes):
            size = 0
            for dim_number, dim_value in _proto_fields(value):
                if dim_number == 1 and isinstance(dim_value, int):
                    size = _signed64(dim_value)
            dims.append(size)
    return tuple(dims)


def _parse_entry(key: str, buf: bytes) -> _Entry:
    dtype = shard = offset = size = crc = 0
    shape: tuple[int, ...] = ()
    for number, value in _proto_fields(buf):
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
    name = _DTYPES.get(int(dtype), f"dtype_{dtype}")
    return _Entry(key, name, shape, int(shard), int(offset), int(size), int(crc))


@functools.lru_cache(maxsize=512)
def _parse_index_cached(path: str, size: int, mtime_ns: int) -> _Index:
    try:
        table = Path(path).read_bytes()
    except FileNotFoundError:
        raise _Vanished("no .index file") from None
    except OSError as exc:
        raise _Damage(f"the .index file cannot be read ({exc.strerror})") from None
    num_shards = 1
    entries: dict[str, _Entry] = {}
    for raw_key, value in _table_records(table):
        if not raw_key:  # the BundleHeaderProto
            for number, field_value in _proto_fields(value):
                if number == 1 and isinstance(field_value, int):
                    num_shards = field_value
                elif number == 2 and field_value:
                    raise _Damage("the checkpoint was written big-endian; only little-endian is read")
            continue
        if raw_key[:1] == b"\x00":  # a slice of a partitioned variable; its full entry is listed too
            continue
        key = raw_key.decode("utf-8", "backslashreplace")
        entries[key] = _parse_entry(key, value)
    if num_shards < 1:
        raise _Damage(f"the index header names {num_shards} data shards")
    return _Index(num_shards, entries)


def _parse_index(prefix: str) -> _Index:
    path = f"{prefix}.index"
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise _Vanished("no .index file") from None
    return _parse_index_cached(path, stat.st_size, stat.st_mtime_ns)


def _read_entry_bytes(prefix: str, index: _Index, entry: _Entry) -> bytes:
    shard = Path(prefix).parent / index.shard_name(Path(prefix).name, entry.shard)
    with open(shard, "rb") as handle:
        handle.seek(entry.offset)
        data = handle.read(entry.size)
    if len(data) != entry.size:
        raise _Damage(f"{entry.key}: the .data file ends before this tensor does")
    return data


def _read_scalar(prefix: str, index: _Index, entry: _Entry) -> int | float | None:
    """A small numeric scalar, CRC-checked as TensorFlow would."""
    numeric = {"int64": "<q", "int32": "<i", "float32": "<f", "float64": "<d", "uint64": "<Q"}
    if entry.shape != () or entry.dtype not in numeric:
        return None
    data = _read_entry_bytes(prefix, index, entry)
    if _masked_crc32c(data) != entry.crc32c:
        raise _Damage(f"{entry.key}: checksum does not match")
    return struct.unpack(numeric[entry.dtype], data)[0]


def _read_string_scalar(prefix: str, index: _Index, entry: _Entry) -> bytes:
    """A scalar string tensor as the bundle stores it: varint length, masked CRC of the length, the bytes.

    The entry's CRC covers the length (little-endian uint32 below 4 GiB, uint64 above), the 4 CRC bytes, the string.
    """
    data = _read_entry_bytes(prefix, index, entry)
    length, pos = _varint(data, 0)
    value = data[pos + 4 : pos + 4 + length]
    covered = length.to_bytes(4 if length <= 0xFFFFFFFF else 8, "little") + data[pos : pos + 4] + value
    if len(value) != length or _masked_crc32c(covered) != entry.crc32c:
        raise _Damage(f"{entry.key}: checksum does not match")
    return value


# Readable names ------------------------------------------------------------------------------------------


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _is_readable(path: str) -> bool:
    """A key path through public attributes (dnn/logits/kernel), not private ones (optimizer/_variables/3)."""
    return not any(part.startswith("_") for part in path.split("/"))


def _info(name: str, entry: _Entry) -> VariableInfo:
    size = math.prod(entry.shape)
    return VariableInfo(name, entry.key, list(entry.shape), entry.dtype, size, entry.size)


def _object_graph_names(prefix: str, index: _Index) -> dict[str, str]:
    """Checkpoint key -> the variable's own name (Keras: ``sequential/hidden1/kernel``), from the object graph."""
    entry = index.entries.get(OBJECT_GRAPH_KEY)
    if entry is None:
        return {}
    try:
        graph = _read_string_scalar(prefix, index, entry)
        names = {}
        for number, node in _proto_fields(graph):  # TrackableObjectGraph.nodes
            if number != 1 or not isinstance(node, bytes):
                continue
            for node_field, attribute in _proto_fields(node):  # TrackableObject.attributes
                if node_field != 2 or not isinstance(attribute, bytes):
                    continue
                parts = {n: v for n, v in _proto_fields(attribute) if isinstance(v, bytes)}
                full_name, key = parts.get(2, b"").decode(), parts.get(3, b"").decode()
                if full_name and key:
                    names[key] = full_name
        return names
    except (_Damage, OSError, UnicodeDecodeError):
        return {}  # naming is a convenience; verify() reports the damage itself


def _object_variables(prefix: str, index: _Index) -> list[VariableInfo]:
    tops: dict[str, VariableInfo] = {}
    slot_entries: list[tuple[str, str, _Entry]] = []
    for key, entry in index.entries.items():
        if key == OBJECT_GRAPH_KEY:
            continue
        if SLOT_MARK in key:
            owner, rest = key.split(SLOT_MARK, 1)
            parts = rest.split("/")  # <optimizer>/<slot>/.ATTRIBUTES/VARIABLE_VALUE
            slot_entries.append((owner, parts[1] if len(parts) > 1 else parts[0], entry))
        elif key.endswith(VALUE_SUFFIX):
            path = key[: -len(VALUE_SUFFIX)]
            tops[path] = _info(path, entry)
        else:
            path = key.replace("/.ATTRIBUTES/", ":")
            tops[path] = _info(path, entry)
    if not all(_is_readable(path) for path in tops):
        _rename_from_object_graph(tops, _object_graph_names(prefix, index))
    for owner, slot, entry in slot_entries:
        target = tops.get(owner)
        if target is None:  # a slot of something not stored itself: show it on its own
            tops[f"{owner}/{slot}"] = _info(f"{owner}/{slot}", entry)
        else:
            target.slots[slot] = _info(f"{target.name}/{slot}", entry)
    return sorted(tops.values(), key=lambda v: _natural_key(v.name))


def _rename_from_object_graph(tops: dict[str, VariableInfo], full_names: dict[str, str]) -> None:
    """Give list-position keys (Keras 3) their variables' own names and hang Keras optimizer slots under them."""
    taken = {path for path in tops if _is_readable(path)}
    positional = [info for path, info in tops.items() if not _is_readable(path)]
    for info in positional:
        full_name = full_names.get(info.key)
        if full_name and full_name not in taken:
            info.name = full_name
            taken.add(full_name)
    # Keras 3 names a slot after its variable's path with "/" -> "_": adam/sequential_hidden1_kernel_momentum.
    # A plain tf.Variable's path carries its ":0" suffix: model/b1 -> adam/b1_0_momentum.
    owners: dict[str, VariableInfo] = {}
    for info in tops.values():
        if full_names.get(info.key):
            owners[full_names[info.key].replace("/", "_")] = info
            owners.setdefault(full_names[info.key].replace("/", "_") + "_0", info)
    for info in positional:
        owner, slot = _keras_slot_owner(full_names.get(info.key, ""), owners)
        if owner is not None and owner is not info:
            info.name = f"{owner.name}/{slot}"
            owner.slots[slot] = info
    slotted = {id(slot) for info in tops.values() for slot in info.slots.values()}
    kept = [info for info in tops.values() if id(info) not in slotted]
    tops.clear()
    tops.update({info.name: info for info in kept})


def _keras_slot_owner(full_name: str, owners: dict[str, VariableInfo]) -> tuple[VariableInfo | None, str]:
    """``adam/sequential_hidden1_kernel_momentum`` -> (the hidden1 kernel, "momentum")."""
    if "/" not in full_name:
        return None, ""
    rest = full_name.split("/", 1)[1]
    cut = len(rest)
    while (cut := rest.rfind("_", 0, cut)) > 0:
        owner = owners.get(rest[:cut])
        if owner is not None:
            return owner, rest[cut + 1 :]
    return None, ""


def _name_based_variables(index: _Index) -> list[VariableInfo]:
    """TF1 keys: slots are ``training/<Optimizer>/<var>/<slot>`` (Estimator) or ``<var>/<Optimizer>`` (TF1)."""
    entries = index.entries
    owners: dict[str, tuple[str, str]] = {}
    for key, entry in entries.items():
        parts = key.split("/")
        candidates = []
        if parts[0] == "training" and len(parts) >= 4:
            candidates.append(("/".join(parts[2:-1]), parts[-1]))
        if len(parts) >= 2:
            candidates.append(("/".join(parts[:-1]), parts[-1]))
        for owner, slot in candidates:
            owner_entry = entries.get(owner)
            if owner_entry is not None and owner_entry.shape == entry.shape and owner != key:
                owners[key] = (owner, slot)
                break
    tops = {key: _info(key, entry) for key, entry in entries.items() if key not in owners}
    for key, (owner, slot) in owners.items():
        target = tops.get(owner)
        if target is None:  # a slot of a slot: keep it visible on its own
            tops[key] = _info(key, entries[key])
        else:
            target.slots[slot] = _info(f"{owner}/{slot}", entries[key])
    return sorted(tops.values(), key=lambda v: _natural_key(v.name))


# Keras .weights.h5 ---------------------------------------------------------------------------------------


def _h5_datasets(path: str) -> list[tuple[str, str, list[int], str, int]]:
    """(readable name, dataset path, shape, dtype, nbytes) of every array in a Keras weights file."""
    import h5py

    found: list[tuple[str, str, list[int], str, int]] = []
    with h5py.File(path, "r") as handle:
        groups: list[tuple[str, Any]] = []
        handle.visititems(lambda name, obj: groups.append((name, obj)) if isinstance(obj, h5py.Group) else None)
        for group_path, group in groups:
            if group_path.split("/")[-1] != "vars":
                continue
            arrays = [(k, group[k]) for k in sorted(group, key=_natural_key) if isinstance(group[k], h5py.Dataset)]
            owner = str(group.attrs.get("name", "")) or group_path.rsplit("/vars", 1)[0] or "model"
            if group_path.startswith("optimizer/"):
                owner = f"optimizer/{owner}"
            labels = [k for k, _ in arrays]
            if len(arrays) == 2 and len(arrays[0][1].shape) >= 2 and len(arrays[1][1].shape) == 1:
                labels = ["kernel", "bias"]  # Dense/Conv layers store [kernel, bias]
            for label, (key, dataset) in zip(labels, arrays, strict=True):
                dtype = str(dataset.dtype)
                found.append((f"{owner}/{label}", f"{group_path}/{key}", list(dataset.shape), dtype, dataset.nbytes))
    return found


def _h5_variables(path: str) -> list[VariableInfo]:
    return [
        VariableInfo(name, key, shape, dtype, math.prod(shape), nbytes)
        for name, key, shape, dtype, nbytes in _h5_datasets(path)
    ]


def _h5_problem(path: Path) -> str | None:
    """Why a Keras weights file cannot be opened, "" when it can, None when it is gone; cached per version."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _h5_problem_cached(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _h5_problem_cached(path: str, size: int, mtime_ns: int) -> str:
    import h5py

    try:
        with h5py.File(path, "r"):
            return ""
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            return "the HDF5 file is truncated (a save was interrupted or the copy is incomplete)"
        return f"not a readable HDF5 file ({text.splitlines()[0][:160]})"


# Scanning a model_dir ------------------------------------------------------------------------------------

_INDEX = re.compile(r"^(?P<prefix>.+)\.index$")
_DATA = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<shards>\d{5})$")
_META = re.compile(r"^(?P<prefix>.+)\.meta$")
_TEMP = re.compile(r"^(?P<prefix>.+)_temp(?:_[0-9a-f]{32})?$")
_STEP = re.compile(r"-(\d+)$")
_H5_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def step_of(prefix: str) -> int | None:
    """The step in a checkpoint's name: ``model.ckpt-200`` -> 200, ``weights.05.weights.h5`` -> 5."""
    name = Path(prefix).name
    if name.endswith(H5_SUFFIX):
        integers = [n for n in _H5_NUMBER.findall(name[: -len(H5_SUFFIX)]) if "." not in n]
        return int(integers[0]) if integers else None  # weights.05-0.32.weights.h5: epoch 5, not the loss
    match = _STEP.search(name)
    return int(match.group(1)) if match else None


@dataclass
class _Group:
    """The files on disk that belong to one prefix."""

    name: str
    index: bool = False
    shards: dict[str, int] = field(default_factory=dict)  # data file name -> size
    others: dict[str, int] = field(default_factory=dict)  # name -> size (.index, .meta, temp files)
    temp: list[str] = field(default_factory=list)
    mtime: float = 0.0
    h5: bool = False

    @property
    def files(self) -> dict[str, int]:
        return {**self.others, **self.shards}


def _walk_size(folder: Path, relative_to: Path) -> tuple[dict[str, int], float]:
    files, newest = {}, 0.0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue
            files[os.path.relpath(os.path.join(root, name), relative_to)] = stat.st_size
            newest = max(newest, stat.st_mtime)
    return files, newest


def _collect(directory: Path, only: str | None) -> tuple[dict[str, _Group], list[str]]:
    """Group the directory's checkpoint files by prefix; also name subfolders that hold checkpoints."""
    groups: dict[str, _Group] = {}
    nested: list[str] = []
    try:
        listing = list(os.scandir(directory))
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot be listed ({exc.strerror})") from None
    for item in listing:
        name = item.name
        try:
            is_dir = item.is_dir()
            stat = item.stat()
        except OSError:
            continue  # swept between listing and stat
        if is_dir:
            match = _TEMP.match(name)
            if match and (only is None or match["prefix"] == only):
                group = groups.setdefault(match["prefix"], _Group(match["prefix"]))
                files, newest = _walk_size(Path(item.path), directory)
                group.temp.append(name)
                group.others.update(files)
                group.mtime = max(group.mtime, newest, stat.st_mtime)
            elif not match and only is None and not name.startswith("."):
                nested.extend(_nested_checkpoint_dirs(Path(item.path), directory))
            continue
        prefix, kind = None, ""
        for pattern, label in ((_INDEX, "index"), (_DATA, "data"), (_META, "meta")):
            match = pattern.match(name)
            if match:
                prefix, kind = match["prefix"], label
                break
        if prefix is None and name.endswith(H5_SUFFIX):
            prefix, kind = name, "h5"
        if prefix is None or (only is not None and prefix != only):
            continue
        group = groups.setdefault(prefix, _Group(prefix))
        group.mtime = max(group.mtime, stat.st_mtime)
        if kind == "data":
            group.shards[name] = stat.st_size
        else:
            group.others[name] = stat.st_size
            group.index |= kind == "index"
            group.h5 |= kind == "h5"
    lone_meta = [p for p, g in groups.items() if not (g.index or g.shards or g.temp or g.h5)]
    for prefix in lone_meta:
        del groups[prefix]
    return groups, nested


def _nested_checkpoint_dirs(folder: Path, top: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    if any(_INDEX.match(n) or n.endswith(H5_SUFFIX) for n in names):
        return [os.path.relpath(folder, top)]
    return []


def _judge(directory: Path, group: _Group) -> tuple[str, str, str]:
    """(status, reason, format) of one prefix from its files, without reading tensor data.

    Damage next to a ``*_temp`` folder is a save still in progress (the index is
    written in place after the data) or one that was cut short: incomplete.
    """
    status, reason, fmt = _judge_files(directory, group)
    if status == "corrupt" and group.temp:
        return (
            "incomplete",
            f"being written, or its save was interrupted ({group.temp[0]} is still there): {reason}",
            fmt,
        )
    return status, reason, fmt


def _judge_files(directory: Path, group: _Group) -> tuple[str, str, str]:
    prefix = str(directory / group.name)
    if group.h5:
        problem = _h5_problem(directory / group.name)
        if problem is None:
            return "missing", "deleted while the folder was being read", "keras-h5"
        return ("corrupt", problem, "keras-h5") if problem else ("ok", "", "keras-h5")
    if not group.index:
        if group.shards:
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", ""
        return (
            "incomplete",
            f"only the temporary folder {group.temp[0]}: a save in progress, or an interrupted one "
            "(then safe to delete)",
            "",
        )
    try:
        index = _parse_index(prefix)
    except _Vanished:
        if any((directory / name).exists() for name in group.files):
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", ""
        return "missing", "deleted while the folder was being read", ""
    except _Damage as damage:
        return "corrupt", str(damage), ""
    for shard in range(index.num_shards):
        name = index.shard_name(group.name, shard)
        if name not in group.shards:
            return "incomplete", f"data shard {name} is missing", index.format
    for shard, needed in index.bytes_needed().items():
        name = index.shard_name(group.name, shard)
        have = group.shards.get(name)
        if have is None:
            return "corrupt", f"the index refers to data shard {shard}, which it does not declare", index.format
        if have < needed:
            return "corrupt", f"{name} is truncated: {have} bytes, the index needs {needed}", index.format
    return "ok", "", index.format


def _state_paths(directory: Path, problems: list[str]) -> tuple[list[str] | None, str | None]:
    """(listed prefix names, latest prefix name) from the ``checkpoint`` file; None when it is absent or damaged."""
    try:
        state = read_state(directory)
    except StateFileError as exc:
        problems.append(
            f"the `{STATE_FILENAME}` state file is damaged ({exc}): TensorFlow cannot tell which checkpoint is "
            "latest; the checkpoints below are listed from the files on disk"
        )
        return None, None
    except OSError as exc:
        problems.append(f"the `{STATE_FILENAME}` state file cannot be read ({exc.strerror})")
        return None, None
    if state is None:
        return None, None
    moved = False

    def local(path: str) -> str:
        nonlocal moved
        candidate = Path(path)
        if candidate.is_absolute() and candidate.parent != directory:
            moved = True
        return candidate.name

    listed = [local(p) for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]]
    if moved:
        problems.append(
            f"the `{STATE_FILENAME}` state file names checkpoints by absolute paths outside this folder (was the "
            "model_dir moved?); they were matched here by file name, but TensorFlow will look for the old paths"
        )
    return list(dict.fromkeys(listed)), local(state.model_checkpoint_path)


def _event_runs(directory: Path) -> list[str]:
    runs = set()
    for root, dirs, names in os.walk(directory):
        depth = len(Path(root).relative_to(directory).parts)
        dirs[:] = [d for d in dirs if depth < 3 and not _TEMP.match(d)]
        if any(n.startswith(EVENTS_PREFIX) for n in names):
            runs.add(Path(root).relative_to(directory).as_posix())
    return sorted(runs, key=_natural_key)


def _order(checkpoint: CheckpointInfo) -> tuple:
    return (checkpoint.step is None, checkpoint.step or 0, checkpoint.mtime, checkpoint.prefix)


def _scan_dir(directory: Path, only: str | None = None) -> ModelDirInfo:
    problems: list[str] = []
    groups, nested = _collect(directory, only)
    listed, latest = _state_paths(directory, problems)
    checkpoints = []
    for name, group in groups.items():
        status, reason, fmt = _judge(directory, group)
        is_listed = listed is not None and name in listed
        if status == "ok" and listed is not None and not is_listed and not group.h5:
            status = "unlisted"
            reason = f"on disk but not in the `{STATE_FILENAME}` state file (kept by hand or by another writer)"
        files = group.files
        checkpoints.append(
            CheckpointInfo(
                step_of(name),
                str(directory / name),
                sorted(files, key=_natural_key),
                sum(files.values()),
                group.mtime,
                status,
                reason,
                is_listed,
                fmt,
            )
        )
        if group.temp and group.index:
            problems.append(
                f"{group.temp[0]} is left over from an interrupted save of {name} "
                "(safe to delete once no trainer is writing here)"
            )
    for name in listed or []:
        if name not in groups and (only is None or name == only):
            reason = (
                f"listed in the `{STATE_FILENAME}` state file, but its files are gone "
                "(deleted by a retention sweep or by hand)"
            )
            checkpoints.append(
                CheckpointInfo(step_of(name), str(directory / name), [], 0, 0.0, "missing", reason, True)
            )
    checkpoints.sort(key=_order)
    tf_checkpoints = [c for c in checkpoints if c.format != "keras-h5"]
    if listed is None and tf_checkpoints and not any("state file is damaged" in p for p in problems):
        problems.append(
            f"no `{STATE_FILENAME}` state file: tf.train.latest_checkpoint() finds nothing here; "
            "each checkpoint can still be used by its prefix"
        )
    latest_step = step_of(latest) if latest else None
    info = ModelDirInfo(
        str(directory),
        _dir_format(checkpoints),
        checkpoints,
        latest_step,
        None,
        _event_runs(directory) if only is None else [],
        problems,
    )
    chosen = info.restore_checkpoint
    info.restore_step = chosen.step if chosen else None
    latest_info = next((c for c in checkpoints if Path(c.prefix).name == latest), None) if latest else None
    if latest_info is not None and not latest_info.usable:
        fallback = f"a restore of 'latest' should use {Path(chosen.prefix).name}" if chosen else "none is usable"
        problems.append(f"the latest checkpoint {latest} is {latest_info.status} ({latest_info.reason}); {fallback}")
    for folder in nested:
        problems.append(f"the subfolder {folder} holds checkpoints too; open it on its own to see them")
    return info


def _dir_format(checkpoints: list[CheckpointInfo]) -> str:
    kinds = {c.format for c in checkpoints if c.format}
    if not kinds:
        if not checkpoints:
            return "empty"
        return "tf1-name" if any(f.endswith(".meta") for c in checkpoints for f in c.files) else "tf2-object"
    return kinds.pop() if len(kinds) == 1 else "mixed"


# Paths: model_dir, prefix, DIR@STEP, *.weights.h5 ------------------------------------------------------------


def _split_step(path: str) -> tuple[str, int | None]:
    """``DIR@STEP`` -> (DIR, STEP); any other path -> (path, None)."""
    head, sep, tail = path.rpartition("@")
    if sep and tail.isdigit() and not os.path.exists(path):
        return head, int(tail)
    if sep and tail and not os.path.exists(path) and os.path.isdir(head):
        raise CheckpointError(f"{path}: {tail!r} is not a step number; use DIR@STEP, e.g. {head}@200")
    return path, None


def _as_prefix(path: Path) -> Path | None:
    """The checkpoint prefix a path names: the prefix itself, or one of its .index/.data/.meta files."""
    for pattern in (_INDEX, _DATA, _META):
        match = pattern.match(path.name)
        if match and path.is_file():
            return path.with_name(match["prefix"])
    if Path(f"{path}.index").exists() or any(path.parent.glob(f"{_glob_escape(path.name)}.data-*")):
        return path
    return None


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def scan(path: str | os.PathLike) -> ModelDirInfo:
    """What a model_dir (or one checkpoint prefix, ``DIR@STEP`` or ``*.weights.h5``) holds; reads no tensor data."""
    text, step = _split_step(os.fspath(path))
    target = Path(text).expanduser()
    if target.is_dir():
        info = _scan_dir(target)
        if step is not None:
            chosen = _pick_step(info, step, text)
            info.checkpoints = [chosen]
        return info
    if step is not None:
        raise CheckpointError(f"{text}: no such model_dir (DIR@STEP needs a folder before the @)")
    if target.is_file() and target.name.endswith(H5_SUFFIX):
        return _scan_dir(target.parent, only=target.name)
    prefix = _as_prefix(target)
    if prefix is None:
        if target.parent.is_dir() and _listed_in_state(target):
            return _scan_dir(target.parent, only=target.name)
        if not target.exists():
            raise CheckpointError(f"{text}: no such file or directory")
        raise CheckpointError(
            f"{text}: not a checkpoint; expected a model_dir, a checkpoint prefix (e.g. model.ckpt-200, without "
            f"the .index/.data suffix), DIR@STEP, or a Keras *{H5_SUFFIX} file"
        )
    return _scan_dir(prefix.parent, only=prefix.name)


def _listed_in_state(prefix: Path) -> bool:
    try:
        state = read_state(prefix.parent)
    except (StateFileError, OSError):
        return False
    if state is None:
        return False
    return prefix.name in {Path(p).name for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]}


def _pick_step(info: ModelDirInfo, step: int, where: str) -> CheckpointInfo:
    chosen = info.checkpoint(step)
    if chosen is None:
        steps = ", ".join(str(c.step) for c in info.checkpoints if c.step is not None) or "none"
        raise CheckpointError(f"{where}: no checkpoint for step {step}; the steps here are: {steps}")
    return chosen


def locate(path: str | os.PathLike, step: int | None = None) -> CheckpointInfo:
    """The one checkpoint a path names: a prefix, ``DIR@STEP``, ``DIR`` + ``step``, or ``DIR`` (its restore step)."""
    text, at_step = _split_step(os.fspath(path))
    if at_step is not None and step is not None and at_step != step:
        raise CheckpointError(f"{path}: names step {at_step}, but step {step} was asked for")
    step = at_step if at_step is not None else step
    info = scan(text)
    if Path(text).expanduser().is_dir():
        if step is not None:
            return _pick_step(info, step, text)
        chosen = info.restore_checkpoint
        if chosen is None:
            states = ", ".join(f"{Path(c.prefix).name}: {c.status}" for c in info.checkpoints) or "no checkpoints"
            raise CheckpointError(f"{text}: no usable checkpoint ({states})")
        return chosen
    chosen = info.checkpoints[0]
    if step is not None and chosen.step != step:
        raise CheckpointError(
            f"{text} is the checkpoint for step {chosen.step}; to pick step {step}, pass its model_dir instead"
        )
    return chosen


def _require_index(checkpoint: CheckpointInfo) -> _Index:
    if checkpoint.status in ("missing", "incomplete") or checkpoint.format == "keras-h5":
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    try:
        return _parse_index(checkpoint.prefix)
    except _Damage as damage:
        raise CheckpointError(f"{checkpoint.prefix}: corrupt: {damage}") from None


# Variables, global step, tensors ---------------------------------------------------------------------------


def list_variables(prefix: str | os.PathLike) -> list[VariableInfo]:
    """The variables of one checkpoint, readable names first-class, optimizer slots under their variable."""
    checkpoint = locate(prefix)
    if checkpoint.format == "keras-h5":
        if checkpoint.status == "corrupt":
            raise CheckpointError(f"{checkpoint.prefix}: corrupt: {checkpoint.reason}")
        return _h5_variables(checkpoint.prefix)
    index = _require_index(checkpoint)
    if index.format == "tf2-object":
        return _object_variables(checkpoint.prefix, index)
    return _name_based_variables(index)


def flat_variables(variables: list[VariableInfo]) -> dict[str, VariableInfo]:
    """Every variable and slot by readable name."""
    flat: dict[str, VariableInfo] = {}
    for info in variables:
        flat[info.name] = info
        for slot in info.slots.values():
            flat[slot.name] = slot
    return flat


def global_step(prefix: str | os.PathLike) -> int | None:
    """The stored training step (``global_step``, ``step`` or the optimizer's iterations), None if none is stored."""
    checkpoint = locate(prefix)
    if checkpoint.format == "keras-h5":
        return None
    index = _require_index(checkpoint)
    by_name = {v.name: v for v in list_variables(checkpoint.prefix)}
    by_name.update({v.key.removesuffix(VALUE_SUFFIX): v for v in by_name.values()})
    for name in GLOBAL_STEP_NAMES:
        info = by_name.get(name)
        if info is not None and info.shape == [] and info.dtype.startswith("int"):
            try:
                value = _read_scalar(checkpoint.prefix, index, index.entries[info.key])
            except (_Damage, OSError) as exc:
                raise CheckpointError(f"{checkpoint.prefix}: {name} cannot be read ({exc})") from None
            return None if value is None else int(value)
    return None


def infer_network(variables: list[VariableInfo]) -> InferredNetwork | None:
    """hidden_units, n_features, n_classes from ``dnn/hiddenlayer_N`` and ``dnn/logits`` shapes; None if absent."""
    by_name = {v.name: v for v in variables}
    logits = by_name.get("dnn/logits/kernel")
    if logits is None or len(logits.shape) != 2:
        return None
    hidden = []
    while (layer := by_name.get(f"dnn/hiddenlayer_{len(hidden)}/kernel")) is not None and len(layer.shape) == 2:
        hidden.append(layer)
    n_features = hidden[0].shape[0] if hidden else logits.shape[0]
    single = logits.shape[1] == 1
    slots = sorted({s for v in [*hidden, logits] for s in v.slots})
    return InferredNetwork([k.shape[1] for k in hidden], n_features, 2 if single else logits.shape[1], single, slots)


class TensorSource:
    """Reads tensors of one checkpoint by raw key, one at a time (TensorFlow's CRC-checked reader, or h5py)."""

    def __init__(self, checkpoint: CheckpointInfo) -> None:
        self.checkpoint = checkpoint
        self._h5 = None
        self._reader = None
        if checkpoint.format == "keras-h5":
            import h5py

            self._h5 = h5py.File(checkpoint.prefix, "r")
        else:
            import tensorflow as tf

            self._reader = tf.train.load_checkpoint(checkpoint.prefix)

    def get(self, key: str) -> np.ndarray:
        import numpy as np

        if self._h5 is not None:
            return np.asarray(self._h5[key][()])
        return np.asarray(self._reader.get_tensor(key))

    def stored_keys(self) -> list[str]:
        if self._h5 is not None:
            return [key for _, key, *_ in _h5_datasets(self.checkpoint.prefix)]
        return sorted(self._reader.get_variable_to_shape_map())

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
        self._reader = None

    def __enter__(self) -> TensorSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_source(checkpoint: CheckpointInfo) -> TensorSource:
    if not checkpoint.usable:
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    try:
        return TensorSource(checkpoint)
    except Exception as exc:  # noqa: BLE001 - TensorFlow's OpError, h5py's OSError: the index or file went bad
        raise CheckpointError(f"{checkpoint.prefix}: cannot be opened ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0][:240] if text else type(exc).__name__


def read_tensor(prefix: str | os.PathLike, name: str) -> np.ndarray:
    """One tensor by readable name (``dnn/logits/bias``, ``dnn/logits/bias/accumulator``) or raw key."""
    checkpoint = locate(prefix)
    flat = flat_variables(list_variables(checkpoint.prefix))
    info = flat.get(name) or next((v for v in flat.values() if v.key == name), None)
    if info is None:
        close = [n for n in flat if name.split("/")[-1] in n][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise CheckpointError(f"{checkpoint.prefix}: no variable {name!r}{hint}")
    with _open_source(checkpoint) as source:
        try:
            return source.get(info.key)
        except Exception as exc:  # noqa: BLE001 - any read failure: say which tensor
            raise CheckpointError(f"{checkpoint.prefix}: {name} cannot be read ({_first_line(exc)})") from None


# Verify ----------------------------------------------------------------------------------------------------

ProgressCallback = Callable[[int, int, CheckpointInfo], None]
VERIFY_ATTEMPTS = 3


def verify(path: str | os.PathLike, on_progress: ProgressCallback | None = None) -> list[CheckpointInfo]:
    """Read every tensor of every checkpoint: the statuses after a full read, with the first problem found.

    ``on_progress(done_bytes, total_bytes, checkpoint)`` is called after each
    tensor; raising from it cancels. A checkpoint swept away between listing
    and reading (a trainer's retention) comes back ``missing``, never an error.
    """
    info = scan(path)
    total = sum(c.total_bytes for c in info.checkpoints if c.usable)
    done = 0
    results = []
    for checkpoint in info.checkpoints:
        if not checkpoint.usable:
            results.append(checkpoint)
            continue

        def progress(nbytes: int, checkpoint: CheckpointInfo = checkpoint) -> None:
            nonlocal done
            done += nbytes
            if on_progress is not None:
                on_progress(min(done, total), total, checkpoint)

        results.append(_verify_one(checkpoint, progress))
    return results


def _files_gone(checkpoint: CheckpointInfo) -> bool:
    folder = Path(checkpoint.prefix).parent
    return any(not (folder / name).exists() for name in checkpoint.files)


def _verify_one(checkpoint: CheckpointInfo, progress: Callable[[int], None]) -> CheckpointInfo:
    gone = replace(
        checkpoint,
        status="missing",
        reason="deleted while it was being verified (a running trainer's retention sweep?)",
    )
    for attempt in range(VERIFY_ATTEMPTS):
        if _files_gone(checkpoint):
            return gone
        current = ""
        try:
            names = {v.key: v.name for v in flat_variables(list_variables(checkpoint.prefix)).values()}
            with TensorSource(checkpoint) as source:
                for key in source.stored_keys():
                    current = names.get(key, key)
                    array = source.get(key)
                    progress(array.nbytes if array.dtype != object else 0)
            return checkpoint
        except CheckpointError as exc:
            if _files_gone(checkpoint):
                return gone
            reason = str(exc).removeprefix(f"{checkpoint.prefix}: ").removeprefix("corrupt: ")
            return replace(checkpoint, status="corrupt", reason=reason)
        except Exception as exc:  # noqa: BLE001 - TensorFlow, h5py and numpy each raise their own kind
            if _files_gone(checkpoint):
                return gone
            if _is_not_found(exc) and attempt + 1 < VERIFY_ATTEMPTS:
                continue  # a file vanished and came back (rename): read again
            return replace(checkpoint, status="corrupt", reason=_damage_reason(exc, current))
    return gone


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or type(exc).__name__ == "NotFoundError"


def _damage_reason(exc: BaseException, variable: str) -> str:
    """TensorFlow's words for damage (DESIGN.md's table), as a person would say them."""
    text = _first_line(exc)
    where = f"{variable}: " if variable else ""
    if "checksum does not match" in text.lower():
        return f"{where}checksum does not match: the .data file is damaged (bit rot or a bad copy)"
    if isinstance(exc, IndexError) or "Read less bytes" in text:
        return f"{where}the .data file is truncated ({text})"
    return f"{where}{text}"


# Diff ------------------------------------------------------------------------------------------------------

DIFF_CHUNK = 1 << 20  # elements per step of the streamed statistics


def _stream_stats(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
    """(|a|², |b|², |b-a|², max|b-a|, a·b), a chunk at a time: a few MB of temporaries, whatever the size."""
    import numpy as np

    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    sum_a = sum_b = sum_d = dot = 0.0
    peak = 0.0
    for start in range(0, flat_a.size, DIFF_CHUNK):
        x = flat_a[start : start + DIFF_CHUNK].astype(np.float64)
        y = flat_b[start : start + DIFF_CHUNK].astype(np.float64)
        sum_a += float(np.dot(x, x))  # np.dot, not @: BLAS for 1-D, about 100x faster here
        sum_b += float(np.dot(y, y))
        dot += float(np.dot(x, y))
        np.subtract(y, x, out=x)
        sum_d += float(np.dot(x, x))
        np.abs(x, out=x)
        peak = max(peak, float(x.max()) if x.size else 0.0)
    return sum_a, sum_b, sum_d, peak, dot


def _numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "biuf" or dtype.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2")


def diff(a_prefix: str | os.PathLike, b_prefix: str | os.PathLike, include_slots: bool = False) -> DiffReport:
    """Variable by variable, how checkpoint B differs from A; tensors are read and compared one pair at a time."""
    started = time.perf_counter()
    ckpt_a, ckpt_b = locate(a_prefix), locate(b_prefix)
    vars_a, vars_b = list_variables(ckpt_a.prefix), list_variables(ckpt_b.prefix)
    if include_slots:
        flat_a, flat_b = flat_variables(vars_a), flat_variables(vars_b)
    else:
        flat_a, flat_b = {v.name: v for v in vars_a}, {v.name: v for v in vars_b}
    names = sorted(set(flat_a) | set(flat_b), key=_natural_key)
    results: list[VariableDiff] = []
    bytes_read = 0
    with _open_source(ckpt_a) as source_a, _open_source(ckpt_b) as source_b:
        for name in names:
            info_a, info_b = flat_a.get(name), flat_b.get(name)
            row = VariableDiff(
                name,
                info_a is not None,
                info_b is not None,
                info_a.shape if info_a else None,
                info_b.shape if info_b else None,
                info_a.dtype if info_a else None,
                info_b.dtype if info_b else None,
            )
            results.append(row)
            if info_a is None or info_b is None:
                row.note = "only in A" if info_b is None else "only in B"
                continue
            if info_a.shape != info_b.shape:
                row.note = f"shapes differ: {info_a.shape} vs {info_b.shape}"
                continue
            try:
                tensor_a = source_a.get(info_a.key)
                tensor_b = source_b.get(info_b.key)
            except Exception as exc:  # noqa: BLE001 - any read failure: name the tensor
                raise CheckpointError(f"{name} cannot be read ({_first_line(exc)})") from None
            bytes_read += tensor_a.nbytes + tensor_b.nbytes
            if not (_numeric(tensor_a.dtype) and _numeric(tensor_b.dtype)):
                same = tensor_a.shape == tensor_b.shape and bool((tensor_a == tensor_b).all())
                row.note = "not numeric; " + ("equal" if same else "differs")
                continue
            sum_a, sum_b, sum_d, peak, dot = _stream_stats(tensor_a, tensor_b)
            del tensor_a, tensor_b
            row.norm_a, row.norm_b = math.sqrt(sum_a), math.sqrt(sum_b)
            row.delta_l2, row.max_abs_delta = math.sqrt(sum_d), peak
            row.relative_change = row.delta_l2 / row.norm_a if row.norm_a > 0 else None
            row.cosine = dot / (row.norm_a * row.norm_b) if row.norm_a > 0 and row.norm_b > 0 else None
    layers = _layer_changes(results)
    return DiffReport(
        ckpt_a.prefix,
        ckpt_b.prefix,
        results,
        layers,
        _diff_summary(results, layers),
        bytes_read,
        time.perf_counter() - started,
    )


def _layer_changes(rows: list[VariableDiff]) -> list[LayerDiff]:
    """Changes per layer (parent path) over its weights: float tensors, not counters such as global_step."""
    sums: dict[str, list[float]] = {}
    for row in rows:
        weight = row.shape_a and (row.dtype_a or "").startswith(("float", "bfloat"))
        if row.delta_l2 is None or row.norm_a is None or not weight:
            continue
        layer = row.name.rsplit("/", 1)[0] if "/" in row.name else row.name
        delta, norm = sums.setdefault(layer, [0.0, 0.0])
        sums[layer] = [delta + row.delta_l2**2, norm + row.norm_a**2]
    layers = [
        LayerDiff(name, math.sqrt(delta), math.sqrt(delta) / math.sqrt(norm) if norm > 0 else None)
        for name, (delta, norm) in sums.items()
    ]
    return sorted(layers, key=lambda layer: (layer.relative_change or 0.0, layer.delta_l2), reverse=True)


def _diff_summary(rows: list[VariableDiff], layers: list[LayerDiff]) -> str:
    only_a = sum(1 for r in rows if not r.in_b)
    only_b = sum(1 for r in rows if not r.in_a)
    reshaped = sum(1 for r in rows if r.in_a and r.in_b and r.shape_a != r.shape_b)
    compared = [r for r in rows if r.delta_l2 is not None]
    parts = [f"{len(compared)} variables compared"]
    for count, label in ((only_a, "only in A"), (only_b, "only in B"), (reshaped, "with different shapes")):
        if count:
            parts.append(f"{count} {label}")
    text = ", ".join(parts)
    if compared and all(r.delta_l2 == 0 for r in compared):
        return f"{text}; all compared values are identical"
    moved = [layer for layer in layers if layer.delta_l2 > 0][:3]
    if moved:
        described = ", ".join(
            f"{layer.name} ({layer.relative_change:.3g} relative)"
            if layer.relative_change is not None
            else f"{layer.name} (L2 {layer.delta_l2:.3g})"
            for layer in moved
        )
        text += f"; moved most: {described}"
    return text
