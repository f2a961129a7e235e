"""Continue a run from one of its checkpoints in a NEW model_dir, leaving the original untouched.

A trainer resuming in place would sweep the original's later checkpoints, so
only the chosen checkpoint's files and a fresh ``checkpoint`` state file naming
it are copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ckptgui.formats.statefile import CheckpointState, read_state, write_state
from ckptgui.modeldir.scan import CheckpointInfo


def copy_checkpoint(checkpoint: CheckpointInfo, new_dir: str) -> str:
    """Copy one checkpoint's files into ``new_dir`` with a fresh state file naming only it; returns the new prefix.

    Refuses a ``new_dir`` that already holds a checkpoint: continuing must never mix runs.
    """
    target = Path(new_dir)
    target.mkdir(parents=True, exist_ok=True)
    if read_state(target) is not None or any(target.glob("*.index")):
        raise FileExistsError(f"{target} already holds checkpoints; continue into an empty or new folder")
    source_dir = Path(checkpoint.prefix).parent
    for name in checkpoint.files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_dir / name, destination)
    name = Path(checkpoint.prefix).name
    write_state(target, CheckpointState(name, [name]))
    return str(target / name)
