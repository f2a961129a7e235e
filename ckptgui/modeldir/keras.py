"""Keras 3 weights files: ``*.weights.h5``, the weights inside a ``*.keras`` zip, BackupAndRestore folders.

Keras writes each layer's arrays positionally (``layers/dense/vars/0``) and the optimizer's as one positional
list (``optimizer/vars/0..N``: iterations, learning rate, then each slot of each trained variable in turn). The
HDF5 path is a weight's identity (a model rebuilt in another process has other layer names but the same paths);
the readable name comes from the ``name`` attributes Keras stores on each ``vars`` group. h5py is imported
lazily: listing a folder that holds no Keras file never loads it.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ckptgui.modeldir.layout import H5_SUFFIX, KERAS_SUFFIX, natural_key
from ckptgui.storage import parent_of, storage_for

KERAS_ZIP_WEIGHTS = "model.weights.h5"  # the weights inside a .keras zip
BACKUP_METADATA = "training_metadata.json"  # BackupAndRestore: {"epoch": N, "batch": M} beside latest.weights.h5
# Slots per trained variable of Keras 3's optimizers, in the order each creates them.
KERAS_OPTIMIZER_SLOTS = {
    "adam": ("momentum", "velocity"),
    "adamw": ("momentum", "velocity"),
    "nadam": ("momentum", "velocity"),
    "adamax": ("m", "norm"),
    "adagrad": ("accumulator",),
    "rmsprop": ("velocity",),
    "sgd": ("momentum",),
}
OPTIMIZER_COUNTERS = ("iterations", "learning_rate")
_AUTO_SUFFIX = re.compile(r"_\d+$")


def is_keras_file(name: str) -> bool:
    """A Keras weights file or a whole ``.keras`` model, by its name."""
    return name.endswith((H5_SUFFIX, KERAS_SUFFIX))


def open_weights(path: str) -> Any:
    """The weights of a ``.weights.h5`` file or a ``.keras`` zip as an open ``h5py.File`` (close it, or use ``with``).

    A ``.weights.h5`` file is opened by its local path (h5py reads files itself); a ``.keras`` zip is read through
    the storage seam and its ``model.weights.h5`` opened in memory. Raises OSError (h5py's, or for a zip without
    weights) with a message saying what is wrong.
    """
    import h5py

    if not path.endswith(KERAS_SUFFIX):
        return h5py.File(path, "r")
    try:
        with zipfile.ZipFile(io.BytesIO(storage_for(path).read(path))) as archive:
            data = archive.read(KERAS_ZIP_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, EOFError) as exc:
        raise OSError(f"not a Keras model file with {KERAS_ZIP_WEIGHTS} inside ({exc})") from None
    return h5py.File(io.BytesIO(data), "r")


def weights_problem(path: str) -> str:
    """Why a Keras file's weights cannot be opened; "" when they can."""
    try:
        with open_weights(path):
            return ""
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            return "the HDF5 file is truncated (a save was interrupted or the copy is incomplete)"
        return f"not a readable HDF5 file ({text.splitlines()[0][:160]})"


@dataclass
class WeightArray:
    """One array of a Keras weights file: ``key`` is its HDF5 path, ``slot_of`` the key of its variable."""

    name: str
    key: str
    shape: list[int]
    dtype: str
    nbytes: int
    slot: str = ""  # the slot's name when this is optimizer state of the variable ``slot_of``
    slot_of: str = ""

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def weight_arrays(path: str) -> list[WeightArray]:
    """Every array of a Keras weights file, named uniquely, optimizer arrays tied to their variables where they can.

    The optimizer's arrays are positional; they are hung under the layers' arrays only when the count works out
    exactly (iterations, learning rate, then the same number of slots for every layer array, shapes matching in
    order). A model with non-trainable arrays (BatchNormalization's moving statistics) leaves them positional.
    """
    with open_weights(path) as handle:
        groups: list[str] = []
        handle.visititems(lambda name, obj: groups.append(name) if name.rsplit("/", 1)[-1] == "vars" else None)
        layers: list[WeightArray] = []
        optimizer: list[WeightArray] = []
        optimizer_name = ""
        for group_path in sorted(groups, key=natural_key):
            group = handle[group_path]
            owner_path = group_path[: -len("vars")].rstrip("/")
            arrays = [(k, group[k]) for k in sorted(group, key=natural_key) if hasattr(group[k], "shape")]
            if owner_path == "optimizer":
                optimizer_name = str(group.attrs.get("name", ""))
                optimizer = [_array(f"optimizer/{k}", f"{group_path}/{k}", d) for k, d in arrays]
                continue
            labels = [k for k, _ in arrays]
            if len(arrays) == 2 and len(arrays[0][1].shape) >= 2 and len(arrays[1][1].shape) == 1:
                labels = ["kernel", "bias"]  # Dense/Conv layers store [kernel, bias]
            owner = _readable_owner(handle, owner_path)
            for label, (key, dataset) in zip(labels, arrays, strict=True):
                layers.append(_array(f"{owner}/{label}", f"{group_path}/{key}", dataset))
    _unique_names(layers)
    _attach_optimizer(layers, optimizer, optimizer_name)
    return layers + optimizer


def _array(name: str, key: str, dataset: Any) -> WeightArray:
    return WeightArray(name, key, list(dataset.shape), str(dataset.dtype), int(dataset.nbytes))


def _readable_owner(handle: Any, owner_path: str) -> str:
    """``layers/functional/layers/dense`` -> ``tower_a/proj``; ``d1`` (a subclassed model's attribute) stays.

    A layer held in a list is stored under a class-based folder name (``functional_1``): its own name, stored
    as an attribute, reads better. An attribute name (``self.d1``) is already the layer's stable name.
    """
    parts = owner_path.split("/") if owner_path else []
    names = []
    for depth, part in enumerate(parts):
        if part == "layers":
            continue
        group = handle.get("/".join([*parts[: depth + 1], "vars"])) if depth and parts[depth - 1] == "layers" else None
        name = str(group.attrs.get("name", "")) if group is not None else ""
        names.append(name or part)
    return "/".join(names) or "model"


def _unique_names(arrays: list[WeightArray]) -> None:
    """Names shared by two arrays (layer names Keras let repeat) fall back to their HDF5 paths, which cannot."""
    repeated = {name for name, count in Counter(array.name for array in arrays).items() if count > 1}
    for array in arrays:
        if array.name in repeated:
            array.name = array.key.replace("/vars/", "/").replace("layers/", "")


def _attach_optimizer(layers: list[WeightArray], optimizer: list[WeightArray], optimizer_name: str) -> None:
    counters = 0  # Keras 3 optimizers store iterations and the learning rate first, as scalars
    while counters < len(OPTIMIZER_COUNTERS) and counters < len(optimizer) and not optimizer[counters].shape:
        optimizer[counters].name = f"optimizer/{OPTIMIZER_COUNTERS[counters]}"
        counters += 1
    slots = optimizer[counters:]
    if not layers or not slots or len(slots) % len(layers):
        return
    per_variable = len(slots) // len(layers)
    known = KERAS_OPTIMIZER_SLOTS.get(_AUTO_SUFFIX.sub("", optimizer_name).lower(), ())
    names = known if len(known) == per_variable else tuple(f"slot_{i}" for i in range(per_variable))
    pairs = [(layers[i // per_variable], names[i % per_variable], array) for i, array in enumerate(slots)]
    if any(owner.shape != array.shape for owner, _, array in pairs):
        return
    for owner, slot, array in pairs:
        array.name, array.slot, array.slot_of = f"{owner.name}/{slot}", slot, owner.key


def stored_integer(path: str, key: str) -> int | None:
    """One integer scalar of a Keras weights file (the optimizer's iterations), None when it is not one."""
    try:
        with open_weights(path) as handle:
            dataset = handle.get(key)
            if dataset is None or dataset.shape != () or dataset.dtype.kind not in "iu":
                return None
            return int(dataset[()])
    except OSError:
        return None


def backup_epoch(weights_path: str) -> int | None:
    """The epoch a BackupAndRestore backup holds, from the metadata Keras writes beside ``latest.weights.h5``."""
    storage = storage_for(weights_path)
    try:
        metadata = json.loads(storage.read(storage.join(parent_of(weights_path), BACKUP_METADATA)))
    except (OSError, ValueError):
        return None
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None
