"""A model_dir holding FIFOs named like checkpoint and event files (issue 12, point 7): the window lists it, never
waits on a FIFO, and every background job ends, so quitting does not hang."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR
from gui_helpers import WINDOW_TIMEOUT_MS
from PySide6.QtCore import QThreadPool

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system"),
]


def test_a_folder_with_fifos_is_listed_and_every_job_ends(qtbot, window, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(ESTIMATOR, model_dir)
    for name in ("model.ckpt-9.index", "model.ckpt-9.data-00000-of-00001", "events.out.tfevents.9.fifo"):
        os.mkfifo(model_dir / name)
    assert window.open_model_dir(str(model_dir))
    workspace = window.workspace
    qtbot.waitUntil(lambda: workspace.steps() == [0, 9, 100, 200], timeout=WINDOW_TIMEOUT_MS)
    fifo = next(c for c in workspace.checkpoints() if c.step == 9)
    assert fifo.status == "corrupt" and "not a regular file" in fifo.reason
    assert QThreadPool.globalInstance().waitForDone(WINDOW_TIMEOUT_MS), "a background job is still running"
