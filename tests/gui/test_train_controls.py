"""Pause, resume, stop, and closing the window while training: the worker always ends cleanly."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, configure, small_spec, train
from PySide6.QtWidgets import QMessageBox

from ckptgui.engine import training
from ckptgui.engine.training import Paused, Resumed
from ckptgui.modeldir.scan import scan

LONG = 50_000_000  # never reached: these runs end by Stop


def start_long_run(qtbot, window, model_dir: Path):
    configure(qtbot, window, small_spec(model_dir, steps=LONG, save_checkpoints_steps=50_000))
    with qtbot.waitSignal(window.training_controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: window.controls.bar.value() > 0, timeout=TRAIN_TIMEOUT_MS)
    return started.args[0]


def test_pause_resume_stop(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "run"
    start_long_run(qtbot, window, model_dir)
    assert not window.window_actions.start.isEnabled() and window.window_actions.stop.isEnabled()
    assert not window.config.isEnabled()

    with qtbot.waitSignal(
        window.training_controller.session.event, check_params_cb=lambda e: isinstance(e, Paused), timeout=30_000
    ) as p:
        window.window_actions.pause.trigger()
    paused_at = p.args[0].step
    assert window.window_actions.pause.text() == "&Resume"
    assert window.training_controller.session.trainer.is_paused
    assert "paused" in window.controls.bar.format()

    with qtbot.waitSignal(
        window.training_controller.session.event, check_params_cb=lambda e: isinstance(e, Resumed), timeout=30_000
    ) as r:
        window.window_actions.pause.trigger()
    assert r.args[0].step == paused_at
    assert window.window_actions.pause.text() == "&Pause"
    qtbot.waitUntil(lambda: window.controls.bar.value() > paused_at, timeout=30_000)

    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        window.window_actions.stop.trigger()
    event = finished.args[0]
    assert event.stopped and paused_at < event.step < LONG
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    # Stop wrote a final checkpoint at the step it stopped at, and the view shows it.
    assert scan(model_dir).latest_step == event.step
    qtbot.waitUntil(lambda: event.step in window.workspace.steps(), timeout=WINDOW_TIMEOUT_MS)
    assert window.window_actions.start.isEnabled() and not window.window_actions.stop.isEnabled()
    assert window.config.isEnabled()


def test_pause_then_stop(qtbot, window, tmp_path: Path):
    start_long_run(qtbot, window, tmp_path / "run")
    with qtbot.waitSignal(
        window.training_controller.session.event, check_params_cb=lambda e: isinstance(e, Paused), timeout=30_000
    ):
        window.window_actions.pause.trigger()
    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        window.window_actions.stop.trigger()
    assert finished.args[0].stopped


def test_close_while_training_asks_then_stops_and_waits(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "run"
    start_long_run(qtbot, window, model_dir)

    window.close()
    qtbot.waitUntil(lambda: window.training_controller.close_dialog is not None)
    box = window.training_controller.close_dialog
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: window.training_controller.close_dialog is None)
    assert window.isVisible() and window.workspace.training

    window.close()
    qtbot.waitUntil(lambda: window.training_controller.close_dialog is not None)
    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        window.training_controller.close_dialog.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TRAIN_TIMEOUT_MS)
    assert window.training_controller.session is None
    event = finished.args[0]
    assert event.stopped
    assert scan(model_dir).latest_step == event.step


class _Cycle:
    """Garbage only the cyclic collector frees; records the thread that freed it."""

    def __init__(self, freed_in: list[str]) -> None:
        self.me = self
        self.freed_in = freed_in

    def __del__(self) -> None:
        self.freed_in.append(threading.current_thread().name)


def test_garbage_is_collected_on_the_gui_thread_only(qtbot, window, tmp_path: Path):
    """Qt wrappers freed by a collection in the training thread deadlocked the suite once; not any more."""
    assert not gc.isenabled()
    start_long_run(qtbot, window, tmp_path / "run")
    freed_in: list[str] = []
    _Cycle(freed_in)
    qtbot.waitUntil(lambda: bool(freed_in), timeout=30_000)
    assert freed_in == [threading.main_thread().name]
    window.window_actions.stop.trigger()
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    window.close()
    assert gc.isenabled()


def test_start_trains_on_the_forms_dataset_without_loading_it_again(qtbot, window, tmp_path: Path, monkeypatch):
    """The form loaded the data off the GUI thread; preflight and the Trainer get that Dataset."""
    loads: list[str] = []
    monkeypatch.setattr(training, "load_dataset", lambda *args: loads.append(threading.current_thread().name))
    model_dir = tmp_path / "run"
    train(qtbot, window, small_spec(model_dir, steps=100))
    train(qtbot, window, small_spec(model_dir, steps=200))  # resumes: preflight checks the checkpoint first
    assert loads == []


def test_a_model_dir_another_process_trains_shows_training_elsewhere(qtbot, window, tmp_path: Path):
    from ckptgui.modeldir.lock import ModelDirLock

    model_dir = tmp_path / "run"
    model_dir.mkdir()
    configure(qtbot, window, small_spec(model_dir, steps=10))
    lock = ModelDirLock(model_dir)
    lock.acquire()
    try:
        window.config.validityChanged.emit(True)  # any look at the actions sees the lock
        qtbot.waitUntil(lambda: not window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
        assert window.window_actions.start.text() == "Training elsewhere"
        assert f"pid {os.getpid()}" in window.window_actions.start.statusTip()
        window.training_controller.start()  # a Start that slips through (a shortcut) is refused, nothing written
        assert window.training_controller.session is None
        assert [p.name for p in model_dir.iterdir()] == ["ckptgui.lock"]
    finally:
        lock.release()
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)  # it looks again
    assert window.window_actions.start.text() == "&Start"
