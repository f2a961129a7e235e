"""The whole path through the real window: train → watch (directory view, plots) → restore → compare → continue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, save_screenshot, small_spec, train

from ckptgui.formats.events import ScalarReader
from ckptgui.gui.panels import COMPARE, MONITOR, RESTORE
from ckptgui.gui.widgets.restore_panel import GUIDE_FLOWERS
from ckptgui.modeldir.scan import scan

pytestmark = pytest.mark.slow


def listing(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}


def test_train_watch_restore_compare_continue(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "run"
    finished = train(qtbot, window, small_spec(model_dir, steps=300, save_summary_steps=25))
    assert (finished.step, finished.stopped) == (300, False)

    # Watch: the directory view lists every checkpoint by step, with its files, and every file of the model_dir.
    view = window.panels.directory
    qtbot.waitUntil(lambda: window.workspace.steps() == [0, 100, 200, 300], timeout=WINDOW_TIMEOUT_MS)
    on_disk = {c.step for c in scan(model_dir).checkpoints}
    assert set(window.workspace.steps()) == on_disk
    item = view.item_for_step(200)
    assert item.text(3) == "ok" and "latest 5" in item.text(4)
    assert sorted(item.child(i).text(0) for i in range(item.childCount())) == [
        "model.ckpt-200.data-00000-of-00001",
        "model.ckpt-200.index",
    ]
    qtbot.waitUntil(lambda: set(view._file_items) >= set(listing(model_dir)), timeout=WINDOW_TIMEOUT_MS)

    # Plots: exactly what the events files hold, with a marker at every checkpoint.
    plots = window.panels.plots
    reader = ScalarReader(model_dir)
    reader.poll()
    expected = reader.series(".", "loss")
    qtbot.waitUntil(lambda: plots.point_count(".", "loss") == len(expected.steps), timeout=WINDOW_TIMEOUT_MS)
    steps, values = plots.curve_data(".", "loss")
    np.testing.assert_array_equal(steps, expected.steps)
    np.testing.assert_array_equal(values, expected.values)
    assert {"loss", "accuracy"} <= set(plots.tags())
    qtbot.waitUntil(lambda: plots.marker_steps()[0] == (0, 100, 200, 300))
    assert "step 150" in plots.show_crosshair(150.0, "loss")
    window.panels.show_tab(MONITOR)
    save_screenshot(window, "view-monitor")

    # Restore step 200: fits its own config; its test accuracy is what the trainer's own evaluation logged.
    view.checkpoints.setCurrentItem(view.item_for_step(200))
    window.window_actions.restore.trigger()
    assert window.panels.tabs.currentIndex() == RESTORE
    restore = window.panels.restore
    qtbot.waitUntil(lambda: restore.report is not None, timeout=WINDOW_TIMEOUT_MS)
    assert restore.report.compatible
    assert restore.compat.table.rowCount() == 6 and restore.compat.mismatched_rows() == []
    restore.eval_button.click()
    qtbot.waitUntil(lambda: restore.last_eval is not None, timeout=WINDOW_TIMEOUT_MS)
    logged = reader.series("eval", "accuracy")
    assert restore.last_eval.step == 200 and restore.last_eval.examples == 30
    assert restore.last_eval.accuracy == pytest.approx(logged.values[list(logged.steps).index(200)], abs=1e-6)
    restore.predict_button.click()
    qtbot.waitUntil(lambda: restore.last_predictions is not None, timeout=WINDOW_TIMEOUT_MS)
    assert restore.input_rows() == GUIDE_FLOWERS
    assert len(restore.last_predictions) == 3
    for prediction in restore.last_predictions:
        assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert prediction.class_name in ("setosa", "versicolor", "virginica")
    assert restore.results.rowCount() == 3
    save_screenshot(window, "view-restore")

    # Compare 100 with 300: per-variable table, overlaid histogram of the selected variable.
    window.panels.compare_prefix(scan(model_dir).checkpoint(300).prefix)
    assert window.panels.tabs.currentIndex() == COMPARE
    compare = window.panels.compare
    assert compare.side_a.select(scan(model_dir).checkpoint(100).prefix)
    compare.compare_button.click()
    qtbot.waitUntil(lambda: compare.result is not None, timeout=WINDOW_TIMEOUT_MS)
    qtbot.waitUntil(lambda: compare.histogram_of is not None, timeout=WINDOW_TIMEOUT_MS)
    result = compare.result
    assert (result.a.step, result.b.step) == (100, 300)
    assert compare.variables.rowCount() == len(result.diff.variables)
    kernel = next(v for v in result.diff.variables if v.name == "dnn/hiddenlayer_0/kernel")
    assert kernel.delta_l2 > 0
    compare.variables.sortItems(5)  # by the delta norm: numbers sort as numbers
    column = [compare.variables.item(r, 5).text() for r in range(compare.variables.rowCount())]
    numbers = [float(t) for t in column if t != "—"]
    assert numbers == sorted(numbers)
    name = compare.histogram_of
    size = int(np.prod(next(v for v in result.diff.variables if v.name == name).shape_a))
    histograms = compare.histogram_data()
    assert len(histograms) == 2 and all(int(counts.sum()) == size for _, counts in histograms)
    save_screenshot(window, "view-compare")

    # Continue from step 100 into a NEW model_dir: the original keeps every checkpoint it had.
    before = listing(model_dir)
    restore.select_prefix(scan(model_dir).checkpoint(100).prefix)
    with qtbot.waitSignal(window.training_controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        restore.continue_button.click()
        qtbot.waitUntil(lambda: restore.new_dir_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
        restore.new_dir_dialog.ok_button.click()
    event = started.args[0]
    assert Path(event.resumed_from).name == "model.ckpt-100"
    assert event.start_step == 100
    new_dir = Path(event.model_dir)
    assert new_dir != model_dir
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    assert listing(model_dir) == before
    assert {c.step for c in scan(new_dir).checkpoints} == {100, 200, 300, 400}
    qtbot.waitUntil(lambda: window.workspace.steps() == [100, 200, 300, 400], timeout=WINDOW_TIMEOUT_MS)
