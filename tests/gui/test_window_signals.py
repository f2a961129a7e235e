"""SIGTERM to the window process: a running training stops with a final checkpoint, its history entry is
closed, and the window quits without asking anything (nobody may be there to answer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gui_helpers import small_spec

from ckptgui.modeldir.records import RunLog, read_run_log, read_written, write_run_log
from ckptgui.modeldir.scan import scan

# The real ``run_app`` (where the signal handling lives) on a model_dir; the window's own Start action is
# triggered once TensorFlow is ready and the form holds the run log's config.
DRIVER = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from ckptgui.gui.app import isolate_settings, make_application, run_app
app = make_application()
isolate_settings(sys.argv[2])

def click_start():
    from ckptgui.gui.main_window import MainWindow
    for window in app.topLevelWidgets():
        if (isinstance(window, MainWindow) and window.tensorflow_ready and window.workspace.run_spec is not None
                and window.window_actions.start.isEnabled()):
            window.config.use_new_temporary_dir()  # a temporary model_dir would be asked about at quit:
            window.workspace.set_model_dir(sys.argv[1])  # SIGTERM must keep it without asking
            window.window_actions.start.trigger()
            return
    QTimer.singleShot(100, click_start)

QTimer.singleShot(100, click_start)
sys.exit(run_app(sys.argv[1]))
"""


def wait_for(predicate, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "the window process ended early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_training_with_a_final_checkpoint_and_quits(tmp_path: Path, signum: int):
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    spec = small_spec(model_dir, steps=100_000_000, save_checkpoints_steps=None, save_checkpoints_secs=600)
    write_run_log(model_dir, RunLog(spec=spec))  # Start continues this config: checkpoints every 600 s
    log = (tmp_path / "window.log").open("w")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(model_dir), str(tmp_path / "settings")], stdout=log, stderr=log, env=env
    )
    try:
        wait_for(lambda: 0 in read_written(model_dir)[0], process)  # the run's first checkpoint: it trains
        time.sleep(1.5)
        sent = time.monotonic()
        process.send_signal(signum)
        returncode = process.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    output = (tmp_path / "window.log").read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, output[-3000:]
    assert took < 30, took
    steps = sorted(read_written(model_dir)[0])
    assert steps[0] == 0 and steps[-1] > 0
    assert Path(scan(str(model_dir)).restore_checkpoint.prefix).name == f"model.ckpt-{steps[-1]}"
    history = read_run_log(model_dir).history[-1]
    assert history["stopped"] is True and history["end_step"] == steps[-1] and "finished" in history
    kept = [p for p in tmp_path.glob("ckptgui-*") if p.is_dir()]
    assert len(kept) == 1, kept  # the temporary model_dir this session made: kept, nothing asked
    name = signal.Signals(signum).name
    print(f"\n{name} to the window: final checkpoint at step {steps[-1]}, quit {took:.2f} s after the signal")
