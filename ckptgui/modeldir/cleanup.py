"""What a crash leaves behind in a model_dir, found (never removed) here; ``ckptgui clean --yes`` removes it.

Leftovers are: ``<prefix>_temp`` folders of an interrupted ``SaveV2`` (the prefix a checkpoint's, ending in
``-<step>``, the folder holding only TensorFlow's ``part-*`` shards: a user's ``export_temp/`` is not one; a
link so named is a leftover whose link alone is removed), our own
``.<name>.*.tmp`` files of an interrupted atomic write, the staging folders an
interrupted export left in ``export/``, and checkpoints that
are incomplete or corrupt *and* not listed in the state file — a listed one is
never called a leftover, whatever its state, because something may still
refer to it; nor is one whose files cannot be opened now (unreadable is not
damaged: it may be healthy for its owner).
"""

from __future__ import annotations

import os
import re

from ckptgui.modeldir.layout import EXPORT_FOLDER, EXPORT_STAGING_PREFIX, TEMP_DIR, step_of
from ckptgui.modeldir.scan import scan
from ckptgui.storage import FileInfo, Storage, expand_path, name_of, parent_of, scheme_of, storage_for

_ATOMIC_TMP = re.compile(r"^\.(checkpoint|ckptgui_run\.json|ckptgui_pins\.json)\..+\.tmp$")
_SAVE_PART = re.compile(r"^part-\d{5}-of-\d{5}\.(index|data-\d{5}-of-\d{5})$")  # what SaveV2 writes in <prefix>_temp
TEMP_WHY = "temporary folder of an interrupted checkpoint save"
TEMP_LINK_WHY = "a link named like a checkpoint save's temporary folder (only the link is removed)"


def _save_temp(storage: Storage, entry: FileInfo) -> str:
    """Why ``entry`` is a ``<prefix>_temp`` leftover of an interrupted save ("" when it is not one)."""
    match = TEMP_DIR.match(entry.name)
    if not entry.is_dir or not match or step_of(match["prefix"]) is None:
        return ""
    if entry.is_link:
        return TEMP_LINK_WHY
    try:
        inside = storage.listdir(entry.path)
    except OSError:
        return ""  # cannot look inside: not proven ours to remove
    return TEMP_WHY if all(item.is_file and _SAVE_PART.match(item.name) for item in inside) else ""


def cannot_open(prefix: str | os.PathLike) -> str:
    """Why a local checkpoint's files cannot be opened now (EACCES, EIO), "" when they can or are gone.

    Unreadable is not damaged: such a checkpoint may be healthy for its owner or a moment later, so nothing
    that deletes or passes over damaged checkpoints may treat it as one.
    """
    storage = storage_for(prefix)
    name = name_of(prefix)
    try:
        entries = storage.listdir(parent_of(prefix) or ".")
    except OSError:
        return ""
    for entry in entries:
        ours = entry.name == f"{name}.index" or entry.name.startswith(f"{name}.data-")
        if not ours or entry.is_dir or entry.is_link or entry.special:
            continue
        try:
            with storage.open(entry.path) as handle:
                handle.read(1)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{entry.name}: {exc.strerror or exc}"
    return ""


def leftovers(model_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """``(path, why)`` for everything an interrupted save left in ``model_dir`` (a local folder or a bucket's)."""
    model_dir = expand_path(model_dir)
    storage = storage_for(model_dir)
    found: list[tuple[str, str]] = []
    for entry in sorted(storage.listdir(model_dir), key=lambda entry: entry.name):
        why = _save_temp(storage, entry)
        if why:
            found.append((storage.join(model_dir, entry.name), why))
        elif entry.is_file and _ATOMIC_TMP.match(entry.name):
            found.append((storage.join(model_dir, entry.name), "temporary file of an interrupted write"))
    exports = storage.info(storage.join(model_dir, EXPORT_FOLDER))
    if exports is not None and exports.is_dir:
        for entry in sorted(storage.listdir(exports.path), key=lambda entry: entry.name):
            if entry.is_dir and entry.name.startswith(EXPORT_STAGING_PREFIX):
                found.append((storage.join(exports.path, entry.name), "staging folder of an interrupted export"))
    local = not scheme_of(model_dir)
    for checkpoint in scan(model_dir).checkpoints:
        if checkpoint.status in ("incomplete", "corrupt") and not checkpoint.listed:
            if local and cannot_open(checkpoint.prefix):
                continue
            for name in checkpoint.files:
                path = storage.join(model_dir, name)
                stored = storage.info(path)
                if stored is not None and stored.is_file and not TEMP_DIR.match(name_of(parent_of(path))):
                    found.append((path, f"{checkpoint.status} checkpoint not in the state file: {checkpoint.reason}"))
    return found
