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
            if sys.argv[3] == "train":
                window.window_actions.start.trigger()
            else:
                open(sys.argv[3], "w").close()  # idle, ready for the signal
            return
    QTimer.singleShot(100, click_start)

QTimer.singleShot(100, click_start)
sys.exit(run_app(sys.argv[1]))
"""


def start_window(model_dir: Path, tmp_path: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    """The window process on ``model_dir`` (its run log's config: checkpoints every 600 s) and its log file."""
    model_dir.mkdir()
    spec = small_spec(model_dir, steps=100_000_000, save_checkpoints_steps=None, save_checkpoints_secs=600)
    write_run_log(model_dir, RunLog(spec=spec))
    log = tmp_path / "window.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp_path)}
    with log.open("w") as out:
        command = [sys.executable, "-c", DRIVER, str(model_dir), str(tmp_path / "settings"), mode]
        return subprocess.Popen(command, stdout=out, stderr=out, env=env), log


def signal_and_wait(process: subprocess.Popen, signum: int, log: Path) -> float:
    """Send ``signum``; the seconds until the process ended with exit 0."""
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 0, log.read_text(encoding="utf-8", errors="replace")[-3000:]
    return time.monotonic() - sent


def kept_temporary_dirs(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.glob("ckptgui-*") if p.is_dir()]


def wait_for(predicate, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait for ``predicate`` while the window process runs; on a failure the process is killed (no test hangs)."""
    deadline = time.monotonic() + timeout
    try:
        while not predicate():
            assert process.poll() is None, "the window process ended early"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)
    except BaseException:
        process.kill()
        process.wait()
        raise


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_training_with_a_final_checkpoint_and_quits(tmp_path: Path, signum: int):
    model_dir = tmp_path / "run"
    process, log = start_window(model_dir, tmp_path, "train")
    wait_for(lambda: 0 in read_written(model_dir)[0], process)  # the run's first checkpoint: it trains
    time.sleep(1.5)
    took = signal_and_wait(process, signum, log)
    assert took < 30, took
    steps = sorted(read_written(model_dir)[0])
    assert steps[0] == 0 and steps[-1] > 0
    assert Path(scan(str(model_dir)).restore_checkpoint.prefix).name == f"model.ckpt-{steps[-1]}"
    history = read_run_log(model_dir).history[-1]
    assert history["stopped"] is True and history["end_step"] == steps[-1] and "finished" in history
    assert len(kept_temporary_dirs(tmp_path)) == 1  # the temporary model_dir this session made: kept, nothing asked
    name = signal.Signals(signum).name
    print(f"\n{name} to the window: final checkpoint at step {steps[-1]}, quit {took:.2f} s after the signal")


@pytest.mark.slow
def test_sigterm_to_an_idle_window_quits_without_asking(tmp_path: Path):
    ready = tmp_path / "ready"
    process, log = start_window(tmp_path / "run", tmp_path, str(ready))
    wait_for(ready.exists, process)
    took = signal_and_wait(process, signal.SIGTERM, log)
    assert took < 10, took
    assert len(kept_temporary_dirs(tmp_path)) == 1  # the quit's question about temporary model_dirs: not asked
    assert read_written(tmp_path / "run")[0] == set()
