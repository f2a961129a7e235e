"""Helpers the GUI tests share: small real training specs, driving the window, screenshots."""

from __future__ import annotations

from pathlib import Path

from ckptgui.gui.main_window import MainWindow
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WINDOW_TIMEOUT_MS = 60_000
TRAIN_TIMEOUT_MS = 120_000


def small_spec(model_dir: Path | str | None, steps: int = 200, **schedule: object) -> RunSpec:
    """The guide's network on Iris, a few hundred steps, checkpoints every 100 steps."""
    options = {"save_checkpoints_steps": 100, "keep_checkpoint_max": 5, "save_summary_steps": 20, **schedule}
    return RunSpec(
        network=NetworkConfig(hidden_units=[10, 10], steps=steps),
        schedule=ScheduleConfig(**options),
        model_dir=str(model_dir) if model_dir is not None else None,
        seed=1,
    )


def finish_training(qtbot, window: MainWindow) -> None:
    """Stop a run still going and wait for its worker thread (so no test leaves a thread behind)."""
    if window.training_controller.session is not None:
        window.training_controller.session.stop()
        qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)


def configure(qtbot, window: MainWindow, spec: RunSpec) -> None:
    window.config.set_spec(spec)
    qtbot.waitUntil(lambda: window.config.valid and window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)


def train(qtbot, window: MainWindow, spec: RunSpec):
    """Start ``spec`` from the window's Start action and wait for the run to end; returns the Finished event."""
    configure(qtbot, window, spec)
    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    assert finished.args[0] is not None, window.last_error
    return finished.args[0]


def save_screenshot(widget, name: str) -> Path:
    """A grab of ``widget`` in tests/artifacts/ for a reviewer to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path)), path
    return path
