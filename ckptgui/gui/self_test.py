"""``ckptgui --self-test``: the real window, offscreen, through train → watch → restore → compare.

Packaging and CI run it to prove a build works end to end: it trains a few
hundred steps into a temporary model_dir, waits until the checkpoints show in
the directory view and points in the plot, restores one step (compatibility,
evaluation, prediction), compares two, saves a screenshot of each view and
prints the path of the main one. Exit status 0, or 1 with the reason on stderr.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from ckptgui.gui.main_window import MainWindow
from ckptgui.gui.panels import COMPARE, MONITOR, RESTORE
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig

STEPS = 300
SAVE_EVERY = 100
TIMEOUT_S = 180.0


class SelfTestFailure(Exception):
    """A step of the self-test did not happen; the message says which."""


class _Driver:
    def __init__(self, window: MainWindow, timeout: float) -> None:
        self.window = window
        self.deadline = time.monotonic() + timeout
        self.errors: list[str] = []
        window.errorReported.connect(lambda message, _detail: self.errors.append(message))

    def wait(self, what: str, predicate: Callable[[], bool]) -> None:
        """Run the event loop until ``predicate`` holds; fail on timeout or on any error the window reports."""
        loop = QEventLoop()
        while not predicate():
            if self.errors:
                raise SelfTestFailure(f"while waiting for {what}: the window reported: {self.errors[0]}")
            if time.monotonic() > self.deadline:
                raise SelfTestFailure(f"timed out waiting for {what}")
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        if self.errors:
            raise SelfTestFailure(f"after {what}: the window reported: {self.errors[0]}")


def _save(window: MainWindow, folder: Path, name: str) -> Path:
    path = folder / f"ckptgui-self-test-{name}.png"
    if not window.grab().save(str(path)):
        raise SelfTestFailure(f"cannot save the screenshot {path}")
    return path


def run_self_test(window: MainWindow, timeout: float = TIMEOUT_S) -> int:
    """Drive ``window`` (not yet shown) through the whole path; returns the exit status."""
    folder = Path(tempfile.mkdtemp(prefix="ckptgui-selftest-"))
    try:
        screenshot = _run(window, folder, timeout)
    except SelfTestFailure as exc:
        print(f"ckptgui self-test FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        window.shutdown(30_000)
    print(screenshot)
    return 0


def _run(window: MainWindow, folder: Path, timeout: float) -> Path:
    driver = _Driver(window, timeout)
    started = time.monotonic()
    window.resize(1360, 860)
    window.show()
    driver.wait("the first paint", lambda: window.first_paint_time is not None)
    driver.wait("TensorFlow to load", lambda: window.tensorflow_ready)

    model_dir = folder / "model_dir"
    spec = RunSpec(
        network=NetworkConfig(hidden_units=[10, 10], steps=STEPS),
        schedule=ScheduleConfig(save_checkpoints_steps=SAVE_EVERY, keep_checkpoint_max=5, save_summary_steps=25),
        model_dir=str(model_dir),
        seed=1,
    )
    window.config.set_spec(spec)
    driver.wait("a valid config", lambda: window.config.valid and window.window_actions.start.isEnabled())
    window.window_actions.start.trigger()
    driver.wait("training to start", lambda: window.workspace.training)
    driver.wait("training to finish", lambda: not window.workspace.training)
    expected = list(range(0, STEPS + 1, SAVE_EVERY))
    driver.wait(f"checkpoints {expected} in the directory view", lambda: window.workspace.steps() == expected)
    driver.wait("points in the loss plot", lambda: window.panels.plots.point_count(".", "loss") >= STEPS // 25)
    driver.wait("eval points in the plot", lambda: window.panels.plots.point_count("eval", "accuracy") >= len(expected))
    window.panels.show_tab(MONITOR)
    driver.wait("the live checkpoint markers", lambda: window.panels.plots.marker_steps()[0] == tuple(expected))
    _save(window, folder, "monitor")

    restore_step = expected[-2]
    item = window.panels.directory.item_for_step(restore_step)
    if item is None:
        raise SelfTestFailure(f"step {restore_step} is not in the directory view")
    window.panels.directory.checkpoints.setCurrentItem(item)
    window.window_actions.restore.trigger()
    restore = window.panels.restore
    driver.wait("the compatibility report", lambda: restore.report is not None)
    if not restore.report.compatible:
        raise SelfTestFailure(f"step {restore_step} does not fit its own config: {restore.report.summary}")
    restore.evaluate()
    driver.wait("the evaluation", lambda: restore.last_eval is not None)
    if not 0.0 <= restore.last_eval.accuracy <= 1.0 or restore.last_eval.examples != 30:
        raise SelfTestFailure(f"unexpected evaluation result {restore.last_eval}")
    restore.predict()
    driver.wait("the predictions", lambda: restore.last_predictions is not None)
    if len(restore.last_predictions) != 3:
        raise SelfTestFailure(f"expected 3 predictions, got {len(restore.last_predictions)}")
    _save(window, folder, "restore")

    compare = window.panels.compare
    window.panels.show_tab(COMPARE)
    if not (compare.side_a.select(_prefix(window, expected[1])) and compare.side_b.select(_prefix(window, STEPS))):
        raise SelfTestFailure("the compare panel does not list the steps to compare")
    compare.compare()
    driver.wait("the comparison", lambda: compare.result is not None)
    driver.wait("the weight histogram", lambda: compare.histogram_of is not None)
    if not any(v.delta_l2 for v in compare.result.diff.variables if v.delta_l2 is not None):
        raise SelfTestFailure("the two compared steps hold identical weights after training")
    _save(window, folder, "compare")
    window.panels.show_tab(RESTORE)
    window.panels.show_tab(MONITOR)
    screenshot = _save(window, folder, "window")
    print(f"self-test passed in {time.monotonic() - started:.1f} s; model_dir {model_dir}", file=sys.stderr)
    return screenshot


def _prefix(window: MainWindow, step: int) -> str:
    return next((c.prefix for c in window.workspace.checkpoints() if c.step == step), "")
