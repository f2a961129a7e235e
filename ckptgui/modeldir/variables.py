"""Variables of one checkpoint, named as the network reads.

Object-based keys (TF2, Keras 3), TF1 name-based keys and Keras ``.weights.h5`` datasets. Every reader here
takes a :class:`CheckpointInfo` from a scan, so naming a checkpoint's variables never lists its folder again.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

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
from ckptgui.modeldir.keras import stored_integer, weight_arrays
from ckptgui.modeldir.layout import natural_key
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, require_index
from ckptgui.storage import name_of, parent_of, storage_for

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
SLOT_MARK = "/.OPTIMIZER_SLOT/"
# TF1 optimizers name a variable's slots after themselves (``dnn/logits/kernel/Adagrad``); these are the slots'
# own names, as TF2 optimizers and Estimator's ``training/<Optimizer>/<var>/<slot>`` keys spell them.
TF1_SLOT_NAMES = {
    "Adagrad": "accumulator",
    "Adam": "m",
    "Adam_1": "v",
    "RMSProp": "rms",
    "RMSProp_1": "momentum",
    "Momentum": "momentum",
}
# Bookkeeping stored beside a model's weights, not part of the model.
OPTIMIZER_SCOPES = ("training/", "optimizer/")
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
    unexplained: list[str] = field(default_factory=list)  # weights outside the DNN (a linear part, embeddings)

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


@dataclass
class _Node:
    """One ``TrackableObject`` of a checkpoint's object graph: its named children, stored tensors and slots."""

    children: list[tuple[str, int]] = field(default_factory=list)  # (local name, node id)
    attributes: list[tuple[str, str]] = field(default_factory=list)  # (full name, checkpoint key)


def _object_graph(prefix: str, index: Index) -> list[_Node]:
    """The ``TrackableObjectGraph`` stored beside the tensors; [] when there is none or it cannot be read."""
    entry = index.entries.get(OBJECT_GRAPH_KEY)
    if entry is None:
        return []
    try:
        graph = decode_string_scalar(entry, read_entry_bytes(prefix, index, entry))
        nodes = []
        for number, raw in proto_fields(graph):  # TrackableObjectGraph.nodes
            if number != 1 or not isinstance(raw, bytes):
                continue
            node = _Node()
            for node_field, value in proto_fields(raw):
                if not isinstance(value, bytes):
                    continue
                parts = dict(proto_fields(value))
                if node_field == 1:  # ObjectReference: node_id, local_name
                    node.children.append((_text(parts.get(2)), int(parts.get(1, 0))))
                elif node_field == 2:  # SerializedTensor: name, full_name, checkpoint_key
                    node.attributes.append((_text(parts.get(2)), _text(parts.get(3))))
            nodes.append(node)
        return nodes
    except (Damage, OSError, UnicodeDecodeError, ValueError):
        return []  # naming is a convenience; verify() reports the damage itself


def _text(value: int | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else ""


def _is_optimizer(node: _Node) -> bool:
    """A Keras 3 optimizer: it tracks the variables it trains as ``_trainable_variables``."""
    return any(name == "_trainable_variables" for name, _ in node.children)


def _object_paths(nodes: list[_Node]) -> dict[int, list[str]]:
    """Node id -> its shortest path of local names from the root, reaching the model before the optimizer.

    TensorFlow's own key is the first path it finds, which for Keras 3 often runs through the optimizer
    (``optimizer/_trainable_variables/0``); the path through the model names the layer instead.
    """
    paths: dict[int, list[str]] = {0: []} if nodes else {}
    deferred: deque[tuple[int, list[str]]] = deque()
    queue = deque([0] if nodes else [])
    while queue or deferred:
        if not queue:  # the model is done: walk what only the optimizer reaches
            node_id, path = deferred.popleft()
            if node_id in paths:
                continue
            paths[node_id] = path
            queue.append(node_id)
        node_id = queue.popleft()
        for name, child in nodes[node_id].children:
            if child in paths or child >= len(nodes):
                continue
            if _is_optimizer(nodes[child]):
                deferred.append((child, [*paths[node_id], name]))
                continue
            paths[child] = [*paths[node_id], name]
            queue.append(child)
    return paths


def _display_path(path: list[str]) -> str | None:
    """``net/d1/_kernel`` -> ``net/d1/kernel``; None when the path runs through a list (``_operations/1``)."""
    *parents, last = path
    if any(part.startswith("_") or part.isdigit() for part in parents) or last.isdigit():
        return None
    return "/".join([*parents, last.lstrip("_") or last])


def _keras_slots(nodes: list[_Node]) -> dict[int, tuple[int, str]]:
    """Slot node id -> (its variable's node id, slot name), from Keras 3 optimizers' parallel lists.

    A Keras 3 optimizer tracks its variables as the list ``_trainable_variables`` and each kind of slot as a list
    of the same length in the same order (``_momentums``, ``_velocities``, ``_accumulators``): the i-th slot
    belongs to the i-th variable, whatever the variables are called.
    """
    owners: dict[int, tuple[int, str]] = {}
    for node in nodes:
        lists = {name: nodes[child] for name, child in node.children if child < len(nodes)}
        trained = lists.get("_trainable_variables")
        if trained is None:
            continue
        order = [child for _, child in trained.children]
        for name, members in lists.items():
            ids = [child for _, child in members.children]
            if name == "_trainable_variables" or len(ids) != len(order) or not ids:
                continue
            if not all(nodes[i].attributes for i in ids if i < len(nodes)):
                continue
            slot = name.lstrip("_")
            slot = slot[:-3] + "y" if slot.endswith("ies") else slot.removesuffix("s")
            for owner, member in zip(order, ids, strict=True):
                owners[member] = (owner, slot)
    return owners


def object_variables(prefix: str, index: Index) -> list[VariableInfo]:
    """Object-based keys (TF2, Keras 3): every variable under one unique readable name, its slots beneath it."""
    tops: dict[str, VariableInfo] = {}  # by key
    slot_entries: list[tuple[str, str, Entry]] = []
    for key, entry in index.entries.items():
        if key == OBJECT_GRAPH_KEY:
            continue
        if SLOT_MARK in key:
            owner, rest = key.split(SLOT_MARK, 1)
            parts = rest.split("/")  # <optimizer>/<slot>/.ATTRIBUTES/VARIABLE_VALUE
            slot_entries.append((owner + VALUE_SUFFIX, parts[1] if len(parts) > 1 else parts[0], entry))
        elif key.endswith(VALUE_SUFFIX):
            tops[key] = _info(key[: -len(VALUE_SUFFIX)], entry)
        else:
            tops[key] = _info(key.replace("/.ATTRIBUTES/", ":"), entry)
    if not all(_is_readable(info.name) for info in tops.values()):  # key paths are unique and readable otherwise
        _name_from_object_graph(tops, _object_graph(prefix, index))
    for owner_key, slot, entry in slot_entries:
        target = tops.get(owner_key)
        if target is None:  # a slot of something not stored itself: show it on its own
            name = f"{owner_key.removesuffix(VALUE_SUFFIX)}/{slot}"
            tops[entry.key] = _info(name, entry)
        else:
            target.slots[slot] = _info(f"{target.name}/{slot}", entry)
    return sorted(tops.values(), key=lambda v: natural_key(v.name))


def _name_from_object_graph(tops: dict[str, VariableInfo], nodes: list[_Node]) -> None:
    """Name each variable by its path through the model, else its Keras path; hang Keras 3 slots under theirs.

    A subclassed model's attributes give readable paths (``net/d1/kernel``); a Functional or Sequential model
    reaches its layers through lists (``model/_operations/1``), so there the variable's own Keras path
    (``sequential/dense/kernel``) reads better, made unique by the list position where two collide.
    """
    paths = _object_paths(nodes)
    node_of = {key: node_id for node_id, node in enumerate(nodes) for _, key in node.attributes}
    full_names = {key: full for node in nodes for full, key in node.attributes}
    fallback: dict[str, list[str]] = {}  # key -> object path, for names made unique below
    for key, info in tops.items():
        path = paths.get(node_of.get(key, -1))
        readable = _display_path(path) if path else None
        if readable is not None:
            info.name = readable
        elif full_names.get(key):
            info.name = full_names[key]
            fallback[key] = path or []
    _qualify_collisions(tops, fallback)
    _make_unique(list(tops.values()))
    by_node = {node_of[key]: info for key, info in tops.items() if key in node_of}
    for slot_node, (owner_node, slot) in _keras_slots(nodes).items():
        owner, info = by_node.get(owner_node), by_node.get(slot_node)
        if owner is None or info is None or owner is info or info.shape != owner.shape:
            continue
        info.name = f"{owner.name}/{slot}"
        owner.slots[slot] = info
        del tops[info.key]


def _qualify_collisions(tops: dict[str, VariableInfo], paths: dict[str, list[str]]) -> None:
    """Two variables with one Keras path (two towers' ``proj/kernel``): prefix each with where their paths part."""
    groups: dict[str, list[str]] = {}
    for key, info in tops.items():
        groups.setdefault(info.name, []).append(key)
    for keys in groups.values():
        if len(keys) < 2 or not all(paths.get(k) for k in keys):
            continue
        shared = 0
        while all(len(paths[k]) > shared + 1 for k in keys) and len({paths[k][shared] for k in keys}) == 1:
            shared += 1
        for key in keys:
            tops[key].name = "/".join([*paths[key][: shared + 1], tops[key].name])


def _make_unique(variables: list[VariableInfo]) -> None:
    """The last guarantee of one name per variable: a name still shared falls back to the raw key."""
    repeated = {name for name, count in Counter(info.name for info in variables).items() if count > 1}
    for info in variables:
        if info.name in repeated:
            info.name = info.key.removesuffix(VALUE_SUFFIX)


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
            slot = TF1_SLOT_NAMES.get(slot, slot)
            target.slots[slot] = _info(f"{owner}/{slot}", entries[key])
    return sorted(tops.values(), key=lambda v: natural_key(v.name))


# Keras .weights.h5 / .keras -------------------------------------------------------------------------------


def h5_datasets(path: str) -> list[tuple[str, str, list[int], str, int]]:
    """(readable name, HDF5 path, shape, dtype, nbytes) of every array of a Keras weights file, slots included."""
    return [(a.name, a.key, a.shape, a.dtype, a.nbytes) for a in weight_arrays(path)]


def h5_variables(path: str) -> list[VariableInfo]:
    """A Keras weights file's arrays as variables; the optimizer's arrays under theirs where the file allows."""
    arrays = weight_arrays(path)
    tops = {a.key: VariableInfo(a.name, a.key, a.shape, a.dtype, a.size, a.nbytes) for a in arrays if not a.slot}
    for array in arrays:
        if array.slot:
            slot = VariableInfo(array.name, array.key, array.shape, array.dtype, array.size, array.nbytes)
            tops[array.slot_of].slots[array.slot] = slot
    return list(tops.values())


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
    by_name = {v.name: v for v in (list_variables(checkpoint) if variables is None else variables)}
    by_name.update({v.key.removesuffix(VALUE_SUFFIX): v for v in by_name.values()})
    # A Keras optimizer kept under another attribute name (tf.train.Checkpoint(opt=...)) counts as well.
    names = [*GLOBAL_STEP_NAMES, *sorted(n for n in by_name if n.endswith("/iterations"))]
    if checkpoint.format == "keras-h5":
        info = by_name.get("optimizer/iterations")
        return stored_integer(checkpoint.prefix, info.key) if info is not None and info.shape == [] else None
    index = require_index(checkpoint)
    for name in names:
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


def model_weights(variables: list[VariableInfo]) -> list[VariableInfo]:
    """The weights of a model: float tensors of rank one or more, outside the optimizer's bookkeeping."""
    return [
        v
        for v in variables
        if v.shape and v.dtype.startswith(("float", "bfloat")) and not v.name.startswith(OPTIMIZER_SCOPES)
    ]


def infer_network(variables: list[VariableInfo]) -> InferredNetwork | None:
    """hidden_units, n_features, n_classes from ``dnn/hiddenlayer_N`` and ``dnn/logits`` shapes; None if absent.

    Weights the DNN does not use (a wide & deep model's linear part, embeddings) are named in ``unexplained``:
    the logits depend on them, so the DNN alone does not compute what the checkpoint's model did.
    """
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
    used = {f"dnn/hiddenlayer_{i}/{part}" for i in range(len(hidden)) for part in ("kernel", "bias")}
    used |= {"dnn/logits/kernel", "dnn/logits/bias"}
    unexplained = [v.name for v in model_weights(variables) if v.name not in used]
    return InferredNetwork(
        [k.shape[1] for k in hidden], n_features, 2 if single else logits.shape[1], single, slots, unexplained
    )
