"""What a crash leaves behind in a model_dir, found (never removed) here; ``ckptgui clean --yes`` removes it.

Leftovers are: ``<prefix>_temp`` folders of an interrupted ``SaveV2``, our own
``.<name>.*.tmp`` files of an interrupted atomic write, and checkpoints that
are incomplete or corrupt *and* not listed in the state file — a listed one is
never called a leftover, whatever its state, because something may still
refer to it.
"""

from __future__ import annotations

import re
from pathlib import Path

from ckptgui.modeldir.scan import scan

_TEMP_DIR = re.compile(r"^.+_temp(?:_[0-9a-f]{32})?$")
_ATOMIC_TMP = re.compile(r"^\.(checkpoint|ckptgui_run\.json|ckptgui_pins\.json)\..+\.tmp$")


def leftovers(model_dir: str | Path) -> list[tuple[Path, str]]:
    """``(path, why)`` for everything an interrupted save left in ``model_dir``."""
    model_dir = Path(model_dir)
    found: list[tuple[Path, str]] = []
    for entry in sorted(model_dir.iterdir()):
        if entry.is_dir() and _TEMP_DIR.match(entry.name):
            found.append((entry, "temporary folder of an interrupted checkpoint save"))
        elif entry.is_file() and _ATOMIC_TMP.match(entry.name):
            found.append((entry, "temporary file of an interrupted write"))
    for checkpoint in scan(model_dir).checkpoints:
        if checkpoint.status in ("incomplete", "corrupt") and not checkpoint.listed:
            for name in checkpoint.files:
                path = model_dir / name
                if path.is_file() and not _TEMP_DIR.match(path.parent.name):
                    found.append((path, f"{checkpoint.status} checkpoint not in the state file: {checkpoint.reason}"))
    return found
