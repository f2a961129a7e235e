"""The single-run view's extras: evaluation metrics per checkpoint with the best one marked; a desktop
notification when a run started from the window ends while the window is not focused."""

from __future__ import annotations

from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, configure, small_spec
from PySide6.QtWidgets import QWidget

from ckptgui.modeldir.records import read_written


def test_run_ending_unfocused_notifies_and_the_checkpoint_table_shows_its_evaluation(qtbot, window, tmp_path):
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=5000)
    model_dir = tmp_path / "model"
    configure(qtbot, window, small_spec(model_dir, steps=300, keep_checkpoint_max=0))
    with qtbot.waitSignal(window.notifier.sent, timeout=TRAIN_TIMEOUT_MS) as sent:
        window.window_actions.start.trigger()
    title, message = sent.args
    assert title == "ckptgui: training finished" and message.endswith("reached step 300")

    _, metrics = read_written(model_dir)
    view = window.panels.directory
    best = max(metrics, key=lambda step: (metrics[step]["accuracy"], step))  # a tie: the later checkpoint
    qtbot.waitUntil(lambda: all(view.item_for_step(step) is not None for step in metrics), timeout=WINDOW_TIMEOUT_MS)
    qtbot.waitUntil(lambda: view.item_for_step(best).text(5) != "", timeout=WINDOW_TIMEOUT_MS)
    for step, values in metrics.items():
        item = view.item_for_step(step)
        assert item.text(5) == f"{values['accuracy']:.4f}" and item.text(6) == f"{values['loss']:.4f}"
        assert item.font(5).bold() == (step == best)


def test_a_run_ending_while_the_window_is_focused_sends_nothing(qtbot, window, tmp_path):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    configure(qtbot, window, small_spec(tmp_path / "model", steps=100))
    finished = window.training_controller.finished
    with qtbot.assertNotEmitted(window.notifier.sent), qtbot.waitSignal(finished, timeout=TRAIN_TIMEOUT_MS):
        window.window_actions.start.trigger()
