"""Tensor data of checkpoints through TensorFlow's reader: read one, diff two checkpoints variable by variable.

A checkpoint in a bucket is read by byte ranges through the storage seam instead, each tensor decoded and
CRC-checked here (:func:`ckptgui.formats.bundle.decode_array`): TensorFlow 2.21 cannot read ``s3://`` at all,
and reads ``gs://`` only from Google's own endpoint.

Each function works on :class:`CheckpointInfo` handles (``diff`` locates each side once), so the cost grows with
the checkpoints read, not with the files beside them. Verifying every CRC needs no TensorFlow: ``modeldir/verify.py``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ckptgui.formats.bundle import check_entry, decode_array
from ckptgui.modeldir.layout import natural_key
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, locate, require_index
from ckptgui.modeldir.variables import flat_variables, h5_datasets, list_variables, read_entry_bytes
from ckptgui.storage import scheme_of


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
    """Reads tensors of one checkpoint by raw key, one at a time (TensorFlow's CRC-checked reader, h5py, or byte
    ranges of a checkpoint in a bucket)."""

    def __init__(self, checkpoint: CheckpointInfo) -> None:
        self.checkpoint = checkpoint
        self._h5 = None
        self._reader = None
        self._index = None
        if checkpoint.format == "keras-h5":
            import h5py

            self._h5 = h5py.File(checkpoint.prefix, "r")
        elif scheme_of(checkpoint.prefix):
            self._index = require_index(checkpoint)
        else:
            import tensorflow as tf

            self._reader = tf.train.load_checkpoint(checkpoint.prefix)

    def get(self, key: str) -> np.ndarray:
        import numpy as np

        if self._h5 is not None:
            return np.asarray(self._h5[key][()])
        if self._index is not None:
            entry = self._index.entries[key]
            return decode_array(entry, read_entry_bytes(self.checkpoint.prefix, self._index, entry))
        return np.asarray(self._reader.get_tensor(key))

    def check(self, key: str) -> None:
        """That a stored tensor is intact (a resume checks every one before it trains): in a bucket its bytes
        against their CRC, string tensors included (only TensorFlow decodes those); elsewhere a full read."""
        if self._index is not None:
            entry = self._index.entries[key]
            check_entry(entry, [read_entry_bytes(self.checkpoint.prefix, self._index, entry)])
        else:
            self.get(key)

    def stored_keys(self) -> list[str]:
        """Every stored key (a resume reads them all, so damaged data shows before training starts)."""
        if self._h5 is not None:
            return [key for _, key, *_ in h5_datasets(self.checkpoint.prefix)]
        if self._index is not None:
            return sorted(key for key, entry in self._index.entries.items() if not entry.partitioned)
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
    vars_a, vars_b = list_variables(ckpt_a), list_variables(ckpt_b)
    if include_slots:
        flat_a, flat_b = flat_variables(vars_a), flat_variables(vars_b)
    else:
        flat_a, flat_b = {v.name: v for v in vars_a}, {v.name: v for v in vars_b}
    names = sorted(set(flat_a) | set(flat_b), key=natural_key)
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
