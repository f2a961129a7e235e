"""What the files of a model_dir are called: checkpoint prefixes and steps, shards, temp folders, events."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

EVENTS_PREFIX = "events.out.tfevents."
H5_SUFFIX = ".weights.h5"
KERAS_SUFFIX = ".keras"  # a whole Keras model: a zip holding model.weights.h5

INDEX_FILE = re.compile(r"^(?P<prefix>.+)\.index$")
DATA_FILE = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<shards>\d{5})$")
META_FILE = re.compile(r"^(?P<prefix>.+)\.meta$")
TEMP_DIR = re.compile(r"^(?P<prefix>.+)_temp(?:_[0-9a-f]{32})?$")
EXPORT_FOLDER = "export"  # MODEL_DIR/export/: where exports for serving go unless told otherwise, as Estimator's did
EXPORT_STAGING_PREFIX = ".ckptgui-export-"  # an export being written and verified, beside its target
_STEP = re.compile(r"-(\d+)$")
_H5_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def step_of(prefix: str) -> int | None:
    """The step in a checkpoint's name: ``model.ckpt-200`` -> 200, ``weights.05.weights.h5`` -> 5."""
    name = Path(prefix).name
    for suffix in (H5_SUFFIX, KERAS_SUFFIX):
        if not name.endswith(suffix):
            continue
        integers = [n for n in _H5_NUMBER.findall(name[: -len(suffix)]) if "." not in n]
        return int(integers[0]) if integers else None  # weights.05-0.32.weights.h5: epoch 5, not the loss
    match = _STEP.search(name)
    return int(match.group(1)) if match else None


def natural_key(name: str) -> list[Any]:
    """A sort key that orders the numbers in names by value: ``model.ckpt-9`` before ``model.ckpt-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
