"""Variables of one checkpoint, named as the network reads.

Object-based keys (TF2, Keras 3), TF1 name-based keys and Keras ``.weights.h5`` datasets. Every reader here
takes a :class:`CheckpointInfo` from a scan, so naming a checkpoint's variables never lists its folder again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ckptgui.formats.bundle import (
    OBJECT_GRAPH_KEY,
    Entry,
    Index,
    decode_scalar,
    decode_string_scalar,
    is_numeric_scalar,
)
from ckptgui.formats.wire import Damage, proto_fields
from ckptgui.modeldir.config import OPTIMIZER_SLOTS
from ckptgui.modeldir.layout import natural_key
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, require_index
from ckptgui.storage import name_of, parent_of, storage_for

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
SLOT_MARK = "/.OPTIMIZER_SLOT/"
GLOBAL_STEP_NAMES = ("global_step", "step", "optimizer/iterations", "optimizer/_iterations", "optimizer/iter")


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


def _is_readable(path: str) -> bool:
    """A key path through public attributes (dnn/logits/kernel), not private ones (optimizer/_variables/3)."""
    return not any(part.startswith("_") for part in path.split("/"))


def _info(name: str, entry: Entry) -> VariableInfo:
    size = math.prod(entry.shape)
    return VariableInfo(name, entry.key, list(entry.shape), entry.dtype, size, entry.size)


def read_entry_bytes(prefix: str, index: Index, entry: Entry) -> bytes:
    """The stored bytes of one tensor, read from its ``.data`` shard through the storage seam."""
    storage = storage_for(prefix)
    shard = storage.join(parent_of(prefix), index.shard_name(name_of(prefix), entry.shard))
    data = storage.read(shard, entry.offset, entry.offset + entry.size)
    if len(data) != entry.size:
        raise Damage(f"{entry.key}: the .data file ends before this tensor does")
    return data


def _object_graph_names(prefix: str, index: Index) -> dict[str, str]:
    """Checkpoint key -> the variable's own name (Keras: ``sequential/hidden1/kernel``), from the object graph."""
    entry = index.entries.get(OBJECT_GRAPH_KEY)
    if entry is None:
        return {}
    try:
        graph = decode_string_scalar(entry, read_entry_bytes(prefix, index, entry))
        names = {}
        for number, node in proto_fields(graph):  # TrackableObjectGraph.nodes
            if number != 1 or not isinstance(node, bytes):
                continue
            for node_field, attribute in proto_fields(node):  # TrackableObject.attributes
                if node_field != 2 or not isinstance(attribute, bytes):
                    continue
                parts = {n: v for n, v in proto_fields(attribute) if isinstance(v, bytes)}
                full_name, key = parts.get(2, b"").decode(), parts.get(3, b"").decode()
                if full_name and key:
                    names[key] = full_name
        return names
    except (Damage, OSError, UnicodeDecodeError):
        return {}  # naming is a convenience; verify() reports the damage itself


def object_variables(prefix: str, index: Index) -> list[VariableInfo]:
    tops: dict[str, VariableInfo] = {}
    slot_entries: list[tuple[str, str, Entry]] = []
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
    return sorted(tops.values(), key=lambda v: natural_key(v.name))


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


def name_based_variables(index: Index) -> list[VariableInfo]:
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
    return sorted(tops.values(), key=lambda v: natural_key(v.name))


# Keras .weights.h5 ---------------------------------------------------------------------------------------


def h5_datasets(path: str) -> list[tuple[str, str, list[int], str, int]]:
    """(readable name, dataset path, shape, dtype, nbytes) of every array in a Keras weights file.

    h5py opens the local file path itself, not through the storage seam: Keras weights files are read locally.
    """
    import h5py

    found: list[tuple[str, str, list[int], str, int]] = []
    with h5py.File(path, "r") as handle:
        groups: list[tuple[str, Any]] = []
        handle.visititems(lambda name, obj: groups.append((name, obj)) if isinstance(obj, h5py.Group) else None)
        for group_path, group in groups:
            if group_path.split("/")[-1] != "vars":
                continue
            arrays = [(k, group[k]) for k in sorted(group, key=natural_key) if isinstance(group[k], h5py.Dataset)]
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


def h5_variables(path: str) -> list[VariableInfo]:
    return [
        VariableInfo(name, key, shape, dtype, math.prod(shape), nbytes)
        for name, key, shape, dtype, nbytes in h5_datasets(path)
    ]


def list_variables(checkpoint: CheckpointInfo) -> list[VariableInfo]:
    """The variables of one checkpoint, readable names first-class, optimizer slots under their variable."""
    if checkpoint.format == "keras-h5":
        if checkpoint.status == "corrupt":
            raise CheckpointError(f"{checkpoint.prefix}: corrupt: {checkpoint.reason}")
        return h5_variables(checkpoint.prefix)
    index = require_index(checkpoint)
    if index.format == "tf2-object":
        return object_variables(checkpoint.prefix, index)
    return name_based_variables(index)


def flat_variables(variables: list[VariableInfo]) -> dict[str, VariableInfo]:
    """Every variable and slot by readable name."""
    flat: dict[str, VariableInfo] = {}
    for info in variables:
        flat[info.name] = info
        for slot in info.slots.values():
            flat[slot.name] = slot
    return flat


def global_step(checkpoint: CheckpointInfo, variables: list[VariableInfo] | None = None) -> int | None:
    """The stored training step (``global_step``, ``step`` or the optimizer's iterations), None if none is stored.

    ``variables`` are the checkpoint's :func:`list_variables` when the caller has them already.
    """
    if checkpoint.format == "keras-h5":
        return None
    index = require_index(checkpoint)
    by_name = {v.name: v for v in (list_variables(checkpoint) if variables is None else variables)}
    by_name.update({v.key.removesuffix(VALUE_SUFFIX): v for v in by_name.values()})
    for name in GLOBAL_STEP_NAMES:
        info = by_name.get(name)
        if info is not None and info.shape == [] and info.dtype.startswith("int"):
            entry = index.entries[info.key]
            if not is_numeric_scalar(entry):
                return None
            try:
                return int(decode_scalar(entry, read_entry_bytes(checkpoint.prefix, index, entry)))
            except (Damage, OSError) as exc:
                raise CheckpointError(f"{checkpoint.prefix}: {name} cannot be read ({exc})") from None
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
