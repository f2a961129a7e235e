"""What a new user met in the first hour with the window (issue 14), each through the real widgets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR_20
from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, configure, save_screenshot, small_spec, train
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from ckptgui.engine.training import Trainer
from ckptgui.gui.panels import MONITOR, RESTORE
from ckptgui.gui.widgets.compare_panel import HISTOGRAM_HINT
from ckptgui.modeldir.scan import scan


def listing(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*")) if p.is_file()}


def accept_new_dir(qtbot, dialog_of, path: Path | None = None) -> Path:
    """Wait for the "where does the new model_dir go" dialog, optionally type ``path``, press its OK button."""
    qtbot.waitUntil(lambda: dialog_of() is not None, timeout=WINDOW_TIMEOUT_MS)
    dialog = dialog_of()
    if path is not None:
        dialog.path.setText(str(path))
    chosen = Path(dialog.chosen_path())
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    return chosen


@pytest.mark.slow
def test_start_on_an_estimator_folder_asks_and_warm_starts_a_new_model_dir(qtbot, window, tmp_path: Path):
    estimator = tmp_path / "estimator"
    shutil.copytree(ESTIMATOR_20, estimator)
    before = listing(estimator)
    spec = small_spec(estimator, steps=20)
    spec.network.hidden_units = [20, 20]
    configure(qtbot, window, spec)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    controller = window.training_controller
    qtbot.waitUntil(lambda: controller.foreign_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
    box = controller.foreign_dialog
    assert "did not write" in box.text()
    assert box.defaultButton() is controller.warm_button  # the safe choice is the default
    save_screenshot(box, "dialog-foreign-folder")
    with qtbot.waitSignal(controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        box.defaultButton().click()
        new_dir = accept_new_dir(qtbot, lambda: controller.new_dir_dialog)
    assert new_dir == tmp_path / "estimator-ckptgui"  # beside the source
    event = started.args[0]
    assert Path(event.model_dir) == new_dir
    assert any("warm-started" in note for note in event.notes), event.notes
    qtbot.waitUntil(lambda: controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    assert listing(estimator) == before  # Estimator's folder untouched, its checkpoint file included
    assert scan(new_dir).latest_step == 20


@pytest.mark.slow
def test_continue_in_a_new_model_dir_keeps_the_feature_names(qtbot, window, tmp_path: Path):
    source = tmp_path / "run"
    Trainer(small_spec(source, steps=20)).run()
    window.open_model_dir(str(source))
    qtbot.waitUntil(lambda: window.workspace.steps() == [0, 20], timeout=WINDOW_TIMEOUT_MS)
    window.panels.show_tab(RESTORE)
    restore = window.panels.restore
    restore.select_prefix(scan(source).checkpoint(20).prefix)
    qtbot.waitUntil(lambda: restore.continue_button.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    with qtbot.waitSignal(window.training_controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        qtbot.mouseClick(restore.continue_button, Qt.MouseButton.LeftButton)
        new_dir = accept_new_dir(qtbot, lambda: restore.new_dir_dialog)
    assert new_dir == tmp_path / "run-from-20"
    notes = started.args[0].notes
    assert not any("ckptgui_run.json" in note or "unknown" in note for note in notes), notes
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)


def test_application_shortcuts_work_while_a_text_field_has_focus(qtbot, window):
    field = window.config.learning_rate
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field)
    qtbot.keyClick(field, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.window_actions.log_scale.isChecked()
    opened: list[str] = []

    def answer() -> None:  # the export's file dialog is modal: record it and cancel it
        dialog = QApplication.activeModalWidget()
        opened.append(dialog.windowTitle() if dialog else "")
        if dialog:
            dialog.reject()

    QTimer.singleShot(300, answer)
    qtbot.keyClick(field, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)
    assert opened == ["Export plots"]


def test_f5_with_invalid_fields_says_why_in_the_status_bar(qtbot, window):
    form = window.config
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    form.batch_size.setText("0")
    qtbot.waitUntil(lambda: not window.window_actions.start.isEnabled())
    qtbot.keyClick(form.batch_size, Qt.Key.Key_F5)
    message = window.statusBar().currentMessage()
    assert message.startswith("Cannot start: batch_size:"), message
    assert "Cannot start" in window.window_actions.start.toolTip()
    assert window.training_controller.session is None


def test_show_in_file_manager_without_one_says_so_in_the_window(qtbot, window, tmp_path: Path):
    form = window.config
    form.model_dir.setText("")
    window.window_actions.file_manager.trigger()
    assert "field is empty" in window.statusBar().currentMessage()
    form.model_dir.setText(str(tmp_path))
    opened = []
    form.open_url = lambda url: opened.append(url.toLocalFile()) or False  # this desktop has no file manager
    window.window_actions.file_manager.trigger()
    assert opened == [str(tmp_path)]
    assert "No file manager" in window.statusBar().currentMessage()


def test_disabled_values_read_as_values_and_placeholders_as_hints(qtbot, window):
    form = window.config
    palette = form.learning_rate.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Disabled):
        value = palette.color(group, QPalette.ColorRole.Text).lightness()
        hint = palette.color(group, QPalette.ColorRole.PlaceholderText).lightness()
        assert value < hint, (group, value, hint)
    form.setEnabled(False)  # as while training
    try:
        assert not form.learning_rate.isEnabled()
        save_screenshot(window.config_dock, "config-disabled-while-training")
    finally:
        form.setEnabled(True)


def test_model_dir_is_at_the_top_and_a_message_does_not_move_the_fields(qtbot, window):
    window.resize(1280, 720)
    form = window.config
    qtbot.waitUntil(lambda: form.valid, timeout=WINDOW_TIMEOUT_MS)
    top = form.model_dir.mapTo(form, form.model_dir.rect().topLeft()).y()
    assert top < form.hidden_units.mapTo(form, form.hidden_units.rect().topLeft()).y()
    assert form.model_dir.visibleRegion().isEmpty() is False  # on screen without scrolling
    form.data_kind.setCurrentIndex(1)  # a CSV: its path field gets the form's width, not a sliver
    qtbot.wait(50)
    assert form.data_path.width() >= form.hidden_units.width() - form.data_browse.width() - 12
    form.data_kind.setCurrentIndex(0)
    qtbot.wait(50)
    below = form.save_every.mapTo(form, form.save_every.rect().topLeft()).y()
    form.steps.setText("x")
    qtbot.waitUntil(lambda: "steps" in form.errors)
    qtbot.wait(50)
    assert form.save_every.mapTo(form, form.save_every.rect().topLeft()).y() == below  # the message had room
    label = form.findChild(type(form.data_info), "error_steps")
    assert label.isVisible() and label.full_text == form.errors["steps"]
    save_screenshot(window, "window-1280x720-invalid-field")


def test_quit_offers_to_delete_only_the_temporary_model_dirs_it_created(qtbot, make_window, tmp_path: Path):
    window = make_window()
    mine = tmp_path / "mine"
    mine.mkdir()
    window.open_model_dir(str(mine))
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # File > New temporary model_dir
    kept = Path(window.config.model_dir_text())
    qtbot.mouseClick(window.config.new_temp_button, Qt.MouseButton.LeftButton)  # and another one
    temporary = Path(window.config.model_dir_text())
    assert len({mine, kept, temporary}) == 3 and kept.is_dir() and temporary.is_dir()
    (temporary / "note.txt").write_text("written while it was open")
    window.close()
    qtbot.waitUntil(lambda: window.leftovers_dialog is not None)
    dialog = window.leftovers_dialog
    rows = [dialog.list.item(i) for i in range(dialog.list.count())]
    assert [str(kept) in r.text() for r in rows] == [True, False] and str(temporary) in rows[1].text()
    assert "25 B" in rows[1].text()
    rows[0].setCheckState(Qt.CheckState.Unchecked)  # the user keeps this one
    save_screenshot(dialog, "dialog-temporary-model-dirs")
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not temporary.exists() and kept.is_dir()
    assert mine.is_dir()  # never anything else


@pytest.mark.slow
def test_after_a_run_eval_is_raw_and_switching_model_dir_leaves_nothing_stale(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "run"
    finished = train(qtbot, window, small_spec(model_dir, steps=200, save_summary_steps=10))
    assert finished.step == 200
    plots = window.panels.plots
    qtbot.waitUntil(lambda: plots.point_count("eval", "loss") >= 3, timeout=WINDOW_TIMEOUT_MS)
    # Eval: drawn raw as points joined by a line, the legend on it; the smoothed copy is not shown.
    eval_curve = plots._curves[("eval", "loss")]
    assert eval_curve.raw_item.opts["symbol"] == "o" and not eval_curve.smooth_item.isVisible()
    train_curve = plots._curves[(".", "loss")]
    assert train_curve.smooth_item.isVisible()  # the dense training series stays smoothed
    for width, height in ((1280, 720), (1920, 1080)):
        window.resize(width, height)
        qtbot.wait(200)
        save_screenshot(window, f"window-after-run-{width}x{height}")
    assert "finished at step 200" in window.controls.bar.text()

    # Legends: the runs are named in the title row, above the data, not on it.
    loss_plot = plots._plots["loss"]
    assert loss_plot.legend is None
    assert "train" in loss_plot.titleLabel.text and "eval" in loss_plot.titleLabel.text

    # A long run continued: the x axis follows the data with headroom, not the planned 3M steps.
    plots.set_training((0, 3_000_000))
    assert 200 < loss_plot.vb.viewRange()[0][1] < 200 * 1.5 * 1.1
    plots.set_training(None)
    # Checkpoint markers are thinned to what the view can tell apart.
    plots.set_checkpoints(list(range(201)), [])
    window.grab()  # paints the markers
    live, _ = plots.marker_items("loss")
    assert 0 < len(live._lines[1]) <= loss_plot.vb.width() / 6 + 1

    # Nothing clipped: predicted probabilities (one column per class) and the Compare tables and labels.
    restore = window.panels.restore
    window.panels.show_tab(RESTORE)
    restore.select_prefix(scan(model_dir).checkpoint(200).prefix)
    qtbot.waitUntil(lambda: restore.predict_button.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    qtbot.mouseClick(restore.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: restore.last_predictions is not None, timeout=WINDOW_TIMEOUT_MS)
    results = restore.results
    assert results.horizontalHeaderItem(1).text() == "P(setosa)" and results.columnCount() == 4
    for column in range(results.columnCount()):
        assert results.columnWidth(column) >= results.sizeHintForColumn(column)
    save_screenshot(window, "window-restore-1920x1080")
    window.panels.compare_prefix(scan(model_dir).checkpoint(200).prefix)
    compare = window.panels.compare
    qtbot.mouseClick(compare.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: compare.histogram_of is not None, timeout=WINDOW_TIMEOUT_MS)
    assert compare.histogram.getPlotItem().legend is None and "B</span>" in compare.histogram_title.text()
    for width, height in ((1280, 720), (1920, 1080)):
        window.resize(width, height)
        qtbot.wait(200)
        assert window.width() == width  # the window fits the screen: nothing forces it wider
        metrics = compare.metrics
        header = metrics.horizontalHeader()
        wanted = [max(metrics.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(metrics.columnCount())]
        assert metrics.viewport().width() >= sum(wanted)
        for column in range(metrics.columnCount()):  # the delta column included
            assert metrics.columnWidth(column) >= wanted[column]
        label = compare.side_b.dir_label
        assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
        assert label.text().endswith("run")  # the folder's name stays readable
        save_screenshot(window, f"window-compare-{width}x{height}")
    window.panels.show_tab(MONITOR)

    # The hover read-out goes when the pointer leaves the plots.
    assert "step 100" in plots.show_crosshair(100.0, "loss")
    QApplication.sendEvent(plots.graphics, QEvent(QEvent.Type.Leave))
    assert "hover a plot" in plots.readout.text()

    # Another model_dir: the last run's progress does not stay on screen.
    other = tmp_path / "other"
    other.mkdir()
    window.open_model_dir(str(other))
    assert window.controls.bar.text() == "idle" and window.controls.rate.text() == "– steps/s"
    assert compare.histogram_title.text() == HISTOGRAM_HINT and compare.histogram_data() == []
    qtbot.waitUntil(lambda: plots.point_count() == 0)
    assert loss_plot.titleLabel.text == "loss"
    assert loss_plot.vb.viewRange()[0][1] <= 1.5  # the empty plots forgot the last model_dir's axes


@pytest.mark.slow
def test_train_into_the_foreign_folder_then_use_its_network_asks_once(qtbot, window, tmp_path: Path):
    estimator = tmp_path / "estimator"
    shutil.copytree(ESTIMATOR_20, estimator)
    configure(qtbot, window, small_spec(estimator, steps=20))  # [10, 10]: does not fit its [20, 20]
    controller = window.training_controller
    window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: controller.foreign_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
    controller.into_button.click()
    qtbot.waitUntil(lambda: controller.incompatible_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
    with qtbot.waitSignal(controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        controller.incompatible_dialog.adopt_button.click()
    assert controller.foreign_dialog is None  # not asked a second time
    assert Path(started.args[0].model_dir) == estimator and started.args[0].start_step == 100
    qtbot.waitUntil(lambda: controller.session is None, timeout=TRAIN_TIMEOUT_MS)
