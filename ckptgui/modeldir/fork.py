"""Continue a run from one of its checkpoints in a NEW model_dir, leaving the original untouched.

A trainer resuming in place would sweep the original's later checkpoints, so
only the chosen checkpoint's files and a fresh ``checkpoint`` state file naming
it are copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ckptgui.formats.statefile import CheckpointState, read_state, write_state
from ckptgui.modeldir.records import RunLog, RunLogError, read_run_log, write_run_log
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
    _carry_run_log(str(source_dir), str(target))
    return str(target / name)


def _carry_run_log(source_dir: str, target: str) -> None:
    """The source's config and data description (feature and class names, in the checkpoint's input order) go
    with the copy: without them the copy's first layer would be fed in the data's order, unchecked. Its history
    and preserved steps stay behind: they describe the source's checkpoints."""
    try:
        log = read_run_log(source_dir)
    except RunLogError:
        return  # unreadable: the copy is then as any foreign checkpoint
    if log is not None:
        write_run_log(target, RunLog(spec=log.spec, data=dict(log.data)))
