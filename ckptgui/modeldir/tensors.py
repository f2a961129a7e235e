"""Tensor data of checkpoints without TensorFlow: read one tensor, diff two checkpoints by checkpoint key.

A TensorFlow checkpoint is read through the project's own index (:mod:`ckptgui.formats.bundle`), a tensor at a
time: its bytes come through the storage seam (local files and buckets alike), are CRC-checked as TensorFlow's
reader checks them and decoded with numpy without a copy (:func:`ckptgui.formats.bundle.decode_array`); a
partitioned variable is put together from its slices. A Keras ``.weights.h5`` is read through h5py.

Each function works on :class:`CheckpointInfo` handles (``diff`` locates each side once), so the cost grows with
the checkpoints read, not with the files beside them. ``verify`` checks every CRC the same way (``verify.py``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import IO

import numpy as np

from ckptgui.formats.bundle import Entry, Index, check_entry, decodable, decode_array, numeric
from ckptgui.formats.wire import Damage
from ckptgui.modeldir.keras import open_weights
from ckptgui.modeldir.layout import natural_key
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, locate, require_index
from ckptgui.modeldir.variables import VariableInfo, flat_variables, h5_datasets, list_variables, read_entry_bytes
from ckptgui.storage import name_of, parent_of, read_at, storage_for


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


class TensorSource:
    """Reads tensors of one checkpoint by checkpoint key, one at a time (its bundle index, or h5py)."""

    def __init__(self, checkpoint: CheckpointInfo) -> None:
        self.checkpoint = checkpoint
        self._h5 = None
        self._index: Index | None = None
        self._buffer = np.empty(0, np.uint8)  # reused by view(): reads into fresh memory cost more than the copy
        self._shards: dict[int, IO] = {}
        if checkpoint.format == "keras-h5":
            self._h5 = open_weights(checkpoint.prefix)
        else:
            self._index = require_index(checkpoint)
            self._storage = storage_for(checkpoint.prefix)

    def get(self, key: str) -> np.ndarray:
        if self._h5 is not None:
            return np.asarray(self._h5[key][()])
        assert self._index is not None
        entry = self._index.entries[key]
        if entry.partitioned:
            return self._assembled(entry)
        return decode_array(entry, read_entry_bytes(self.checkpoint.prefix, self._index, entry))

    def view(self, key: str) -> np.ndarray:
        """As :meth:`get`, but the tensor may be a view of this source's read buffer: valid until the next call
        (a diff, which is done with each tensor before it reads the next, reads at disk speed this way)."""
        if self._index is None or self._index.entries[key].partitioned:
            return self.get(key)
        entry = self._index.entries[key]
        if len(self._buffer) < entry.size:
            self._buffer = np.empty(0, np.uint8)  # the old one goes before the new one is allocated
            self._buffer = np.empty(entry.size, np.uint8)  # not zero-filled: the read fills it
        stored = self._buffer[: entry.size]
        if read_at(self._shard(entry.shard), entry.offset, memoryview(stored)) != entry.size:
            raise Damage(f"{entry.key}: the .data file ends before this tensor does")
        return decode_array(entry, stored)

    def _shard(self, number: int) -> IO:
        """The ``.data`` shard ``number``, opened at its first read and kept open until :meth:`close`."""
        handle = self._shards.get(number)
        if handle is None:
            assert self._index is not None
            prefix = self.checkpoint.prefix
            name = self._index.shard_name(name_of(prefix), number)
            handle = self._shards[number] = self._storage.open(self._storage.join(parent_of(prefix), name))
        return handle

    def _assembled(self, entry: Entry) -> np.ndarray:
        """A partitioned variable from its slices, each read and checked on its own."""
        assert self._index is not None
        pieces = [piece for piece in self._index.slices if piece.key == entry.key]
        if not pieces:
            raise CheckpointError(f"{entry.key}: partitioned, but none of its slices is in the index")
        whole: np.ndarray | None = None
        for piece in pieces:
            part = decode_array(piece, read_entry_bytes(self.checkpoint.prefix, self._index, piece))
            if whole is None:
                whole = np.empty(entry.shape, part.dtype)
            where = tuple(
                slice(start, start + length) if length >= 0 else slice(None) for start, length in piece.extent
            )
            whole[where] = part
        assert whole is not None
        return whole

    def check(self, key: str) -> None:
        """That a stored tensor is intact (a resume checks every one before it trains): its bytes against their
        CRC, string tensors included, without decoding them; a partitioned variable by reading its slices."""
        if self._index is not None and not self._index.entries[key].partitioned:
            entry = self._index.entries[key]
            check_entry(entry, [read_entry_bytes(self.checkpoint.prefix, self._index, entry)])
        else:
            self.get(key)

    def stored_keys(self) -> list[str]:
        """Every stored key (a resume reads them all, so damaged data shows before training starts)."""
        if self._h5 is not None:
            return [key for _, key, *_ in h5_datasets(self.checkpoint.prefix)]
        assert self._index is not None
        return sorted(key for key, entry in self._index.entries.items() if entry.dtype != "variant")

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
        for handle in self._shards.values():
            handle.close()
        self._shards.clear()

    def __enter__(self) -> TensorSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_source(checkpoint: CheckpointInfo) -> TensorSource:
    if not checkpoint.usable:
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    try:
        return TensorSource(checkpoint)
    except Exception as exc:  # noqa: BLE001 - h5py's OSError, a damaged index: say which checkpoint
        raise CheckpointError(f"{checkpoint.prefix}: cannot be opened ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0][:240] if text else type(exc).__name__


def read_tensor(checkpoint: CheckpointInfo, name: str) -> np.ndarray:
    """One tensor by readable name (``dnn/logits/bias``, ``dnn/logits/bias/accumulator``) or raw key."""
    flat = flat_variables(list_variables(checkpoint))
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


# Diff ------------------------------------------------------------------------------------------------------

# Elements per step of the streamed statistics: three float64 buffers of 256 KB stay in the CPU's cache. Each sum is
# a row-wise ``np.vecdot`` over rows of DOT_ROW elements: OpenBLAS's ddot (float64 products and sums) keeps a row of
# up to 10,000 elements on one thread (its threads, fighting over a busy machine's cores, made the sums up to 10x
# slower) and is 2-3x faster than einsum. No worker thread reads the next pair (or batch of pairs) meanwhile: on a
# 2-core machine, even a worker doing nothing but preadv slowed these short numpy calls on the other core by 35%,
# and a diff with one took 5-15% longer than without.
DIFF_CHUNK = 1 << 15
DOT_ROW = 8192


class _Sums:
    """(|a|², |b|², |b-a|², max|b-a|, a·b) of tensor pairs in float64, a chunk at a time: three small buffers, whatever
    the size, allocated once per diff. A chunk's tail is zero-padded to whole rows (zeros add nothing to any sum).
    Each row's four sums go straight into a table of every row of the tensor, added up once at its end: per chunk,
    Python calls numpy no more often than the work needs."""

    def __init__(self) -> None:
        self.row = min(DOT_ROW, DIFF_CHUNK)
        size = -(-DIFF_CHUNK // self.row) * self.row
        self.x, self.y, self.d = np.zeros(size), np.zeros(size), np.zeros(size)
        self.rows = np.zeros((4, 0))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
        flat_a, flat_b = a.reshape(-1), b.reshape(-1)
        total_rows = -(-flat_a.size // self.row)
        if self.rows.shape[1] < total_rows:
            self.rows = np.zeros((4, total_rows))
        rows_a, rows_b, rows_d, rows_dot = self.rows[:, :total_rows]
        peak = 0.0
        done = 0
        for start in range(0, flat_a.size, DIFF_CHUNK):
            count = min(DIFF_CHUNK, flat_a.size - start)
            rows = -(-count // self.row)
            x, y, d = self.x[: rows * self.row], self.y[: rows * self.row], self.d[: rows * self.row]
            x[:count] = flat_a[start : start + count]
            y[:count] = flat_b[start : start + count]
            x[count:] = y[count:] = 0.0
            np.subtract(y, x, out=d)
            peak = max(peak, float(d.max()), -float(d.min()))
            x, y, d = x.reshape(rows, self.row), y.reshape(rows, self.row), d.reshape(rows, self.row)
            these = slice(done, done + rows)
            np.vecdot(x, x, out=rows_a[these])
            np.vecdot(y, y, out=rows_b[these])
            np.vecdot(d, d, out=rows_d[these])
            np.vecdot(x, y, out=rows_dot[these])
            done += rows
        sum_a, sum_b, sum_d, dot = self.rows[:, :total_rows].sum(axis=1).tolist()
        return sum_a, sum_b, sum_d, peak, dot


def _by_key(variables: list[VariableInfo], include_slots: bool) -> dict[str, VariableInfo]:
    """Checkpoint key -> variable (and its slots with ``include_slots``): the identity diff pairs by. A display
    name is not one: Keras numbers auto-names per process (``dense_2`` in a rebuilt model, ``dense`` before)."""
    listed = flat_variables(variables).values() if include_slots else variables
    return {info.key: info for info in listed}


def diff(a_prefix: str | os.PathLike, b_prefix: str | os.PathLike, include_slots: bool = False) -> DiffReport:
    """Tensor by tensor, paired by checkpoint key, how checkpoint B differs from A; read a pair at a time."""
    started = time.perf_counter()
    ckpt_a, ckpt_b = locate(a_prefix), locate(b_prefix)
    by_key_a = _by_key(list_variables(ckpt_a), include_slots)
    by_key_b = _by_key(list_variables(ckpt_b), include_slots)
    keys = sorted(set(by_key_a) | set(by_key_b), key=lambda key: natural_key((by_key_a.get(key) or by_key_b[key]).name))
    results: list[VariableDiff] = []
    bytes_read = 0
    sums = _Sums()
    with _open_source(ckpt_a) as source_a, _open_source(ckpt_b) as source_b:
        for key in keys:
            info_a, info_b = by_key_a.get(key), by_key_b.get(key)
            row = VariableDiff(
                (info_a or info_b).name,  # type: ignore[union-attr] - one side at least has the key
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
            opaque = [
                info.dtype
                for checkpoint, info in ((ckpt_a, info_a), (ckpt_b, info_b))
                if checkpoint.format != "keras-h5" and not decodable(info.dtype)
            ]
            if opaque:
                row.note = f"{opaque[0]} tensors are not compared (only TensorFlow decodes them)"
                continue
            try:
                tensor_a = source_a.view(key)
                tensor_b = source_b.view(key)
            except Exception as exc:  # noqa: BLE001 - any read failure: name the tensor
                raise CheckpointError(f"{row.name} cannot be read ({_first_line(exc)})") from None
            bytes_read += tensor_a.nbytes + tensor_b.nbytes
            if not (_numeric(info_a.dtype, tensor_a) and _numeric(info_b.dtype, tensor_b)):
                same = tensor_a.shape == tensor_b.shape and bool((tensor_a == tensor_b).all())
                row.note = "not numeric; " + ("equal" if same else "differs")
                continue
            sum_a, sum_b, sum_d, peak, dot = sums(tensor_a, tensor_b)
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


def _numeric(dtype: str, tensor: np.ndarray) -> bool:
    """Numbers to take norms of: a bundle's numeric dtype (complex excepted), or an HDF5 array of numbers."""
    return (numeric(dtype) or tensor.dtype.kind in "biuf") and tensor.dtype.kind in "biuf"


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
    parts = [f"{len(compared)} of {len(rows)} tensors compared"]
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
