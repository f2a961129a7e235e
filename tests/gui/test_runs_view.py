"""The runs view through its real widgets: table, overlaid curves, spec diff, exports, a run appearing live."""

from __future__ import annotations

import csv
import dataclasses
import shutil

import numpy as np
import pytest
from gui_helpers import WINDOW_TIMEOUT_MS
from PySide6.QtCore import Qt, QThreadPool
from runs_parent import runs_parent

from ckptgui.formats.events import read_scalars
from ckptgui.gui.runs_view import RunsView
from ckptgui.modeldir.records import read_run_log
from ckptgui.workspace.smoothing import ema

NAMES = ["estimator", "keras", "keras/tf_checkpoint", "sweep/small", "sweep/wide"]


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    return runs_parent(tmp_path_factory)


@pytest.fixture
def view(qtbot, parent, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(parent, copy)
    pool = QThreadPool()
    widget = RunsView(pool)
    qtbot.addWidget(widget)
    widget.resize(1200, 900)
    widget.show()
    widget.open_folder(str(copy))
    qtbot.waitUntil(lambda: widget.model.rowCount() == len(NAMES), timeout=WINDOW_TIMEOUT_MS)
    yield widget
    widget._timer.stop()
    pool.waitForDone(10_000)


def _cell(view, run, column):
    row = next(i for i in range(view.proxy.rowCount()) if view.proxy.index(i, 0).data() == run)
    return view.proxy.index(row, view.model.columns.index(column)).data()


def test_table_values_come_from_the_run_logs_and_events(view):
    root = view.folder.parent
    assert sorted(view.proxy.index(i, 0).data() for i in range(view.proxy.rowCount())) == NAMES
    for run in ("sweep/small", "sweep/wide"):
        log = read_run_log(f"{root}/{run}")
        assert _cell(view, run, "hidden_units") == str(log.spec.network.hidden_units)
        assert _cell(view, run, "learning_rate") == f"{log.spec.network.learning_rate:.6g}"
        assert _cell(view, run, "status") == "finished"
        evals = read_scalars(f"{root}/{run}/eval")["."]["accuracy"]
        assert _cell(view, run, "best accuracy") == f"{evals.values.max():.6g}"
        assert _cell(view, run, "step") == "60"
    assert _cell(view, "estimator", "checkpoints") == "3"
    assert "optimizer" not in view.model.columns  # the same in every run


def test_sort_filter_and_chosen_columns(view, tmp_path):
    view.table.sortByColumn(view.model.columns.index("step"), Qt.SortOrder.DescendingOrder)
    assert view.proxy.index(0, 0).data() == "estimator"  # 200 steps
    view.filter.setText("WIDE")
    assert [view.proxy.index(i, 0).data() for i in range(view.proxy.rowCount())] == ["sweep/wide"]
    view.filter.setText("")
    view.set_column_visible("disk bytes", False)
    assert "disk bytes" not in view.visible_columns()
    assert view.export_table(str(tmp_path / "t.csv")) == len(NAMES)
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert "disk bytes" not in rows[0] and rows[0]["run"] == "estimator"


def test_selected_runs_overlay_with_one_colour_each_and_their_best_marked(qtbot, view):
    view.plots.smoothing.setValue(0)
    view.select_runs(["sweep/small", "sweep/wide"])
    both = ["sweep/small", "sweep/wide"]
    qtbot.waitUntil(lambda: not view.plots.drawing and view.plots.legend_names() == both, timeout=5000)
    root = view.folder.parent
    for run in ("sweep/small", "sweep/wide"):
        series = read_scalars(f"{root}/{run}")
        x, y = view.plots.curve_data(run, "eval/accuracy")
        np.testing.assert_array_equal(x, series["eval"]["accuracy"].steps)
        np.testing.assert_array_equal(y, series["eval"]["accuracy"].values)
        x, y = view.plots.curve_data(run, "loss")
        np.testing.assert_array_equal(y, series["."]["loss"].values)
        assert view.plots.curve_color(run, "loss") == view.plots.curve_color(run, "eval/accuracy") == view.colors[run]
        best = int(series["eval"]["accuracy"].steps[np.argmax(series["eval"]["accuracy"].values)])
        assert view.plots.best_marker("eval/accuracy")[run][0] == best
    assert view.colors["sweep/small"] != view.colors["sweep/wide"]
    index = view.proxy.index(0, 0)
    assert index.data(Qt.ItemDataRole.DecorationRole) == view.colors[index.data()]

    view.plots.smoothing.setValue(60)
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    _, smoothed = view.plots.curve_data("sweep/small", "loss", smoothed=True)
    np.testing.assert_allclose(smoothed, ema(read_scalars(f"{root}/sweep/small")["."]["loss"].values, 0.6)[0])
    view.plots.x_axis.setCurrentIndex(1)
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    x, _ = view.plots.curve_data("sweep/small", "loss")
    walls = read_scalars(f"{root}/sweep/small")
    start = min(float(s.wall_times[0]) for tags in walls.values() for s in tags.values())
    np.testing.assert_allclose(x, walls["."]["loss"].wall_times - start)
    view.select_runs(["sweep/wide"])
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    assert view.plots.legend_names() == ["sweep/wide"]
    assert not any(run == "sweep/small" for run, _tag in view.plots._curves)


def test_two_runs_selected_show_what_changed(qtbot, view):
    view.select_runs(["sweep/small", "sweep/wide"])
    text = view.diff.toPlainText()
    assert (
        "sweep/small → sweep/wide: hidden_units [10, 10] → [20, 20]; learning_rate 0.05 → 0.1; data unchanged" in text
    )
    qtbot.waitUntil(lambda: "checkpoints:" in view.diff.toPlainText(), timeout=WINDOW_TIMEOUT_MS)
    assert view.diff.toPlainText().endswith("checkpoints: A has hidden_units [10, 10]; B has [20, 20]")


def test_exported_scalars_equal_each_runs_scalars(view, tmp_path):
    view.select_runs(["sweep/wide", "estimator"])
    count = view.export_scalars(str(tmp_path / "s.csv"))
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert len(rows) == count
    root = view.folder.parent
    expected = sorted(
        (name if run == "." else f"{name}/{run}", tag, int(step), float(value))
        for name in ("sweep/wide", "estimator")
        for run, tags in read_scalars(f"{root}/{name}").items()
        for tag, s in tags.items()
        for step, value in zip(s.steps, s.values, strict=True)
    )
    assert sorted((r["run"], r["tag"], int(r["step"]), float(r["value"])) for r in rows) == expected


def test_a_run_appears_while_the_view_is_open(qtbot, view, parent):
    view.select_runs(["sweep/small"])
    shutil.copytree(parent / "sweep" / "wide", f"{view.folder.parent}/later/wide")
    qtbot.waitUntil(lambda: view.model.rowCount() == len(NAMES) + 1, timeout=WINDOW_TIMEOUT_MS)
    assert view.selected_runs() == ["sweep/small"]  # the selection survives the new row
    # The row can appear before the copy of its run log and checkpoints is complete: the rest comes with later polls.
    qtbot.waitUntil(lambda: _cell(view, "later/wide", "hidden_units") == "[20, 20]", timeout=WINDOW_TIMEOUT_MS)
    copied = [_cell(view, "sweep/wide", c) for c in ("checkpoints", "healthy")]
    qtbot.waitUntil(lambda: [_cell(view, "later/wide", c) for c in ("checkpoints", "healthy")] == copied)
    view.select_runs(["later/wide", "sweep/wide"])  # the same network: the checkpoints are compared too
    assert "later/wide → sweep/wide: data unchanged" in view.diff.toPlainText()
    qtbot.waitUntil(lambda: "checkpoints:" in view.diff.toPlainText(), timeout=WINDOW_TIMEOUT_MS)
    last = view.diff.toPlainText().splitlines()[-1]
    assert last.startswith("checkpoints:") and "identical" in last and "most moved" not in last  # copies


def test_the_curves_of_selected_runs_that_are_deleted_go_with_their_rows(qtbot, view):
    view.select_runs(["sweep/small", "sweep/wide"])
    qtbot.waitUntil(lambda: not view.plots.drawing and len(view.plots.legend_names()) == 2, timeout=5000)
    shutil.rmtree(f"{view.folder.parent}/sweep")
    qtbot.waitUntil(lambda: view.model.rowCount() == len(NAMES) - 2, timeout=WINDOW_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    assert view.selected_runs() == []
    assert view.plots.legend_names() == [] and not view.plots._curves


def test_a_folder_that_cannot_be_read_is_said_so(qtbot, tmp_path):
    pool = QThreadPool()
    widget = RunsView(pool)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.status, timeout=WINDOW_TIMEOUT_MS) as said:
        widget.open_folder(str(tmp_path / "missing"))
    assert "missing" in said.args[0] and "No such file or directory" in said.args[0]
    assert widget.model.rowCount() == 0
    (tmp_path / "missing").mkdir()
    qtbot.waitUntil(lambda: widget.path_label.text() == widget.folder.parent, timeout=WINDOW_TIMEOUT_MS)
    widget._timer.stop()
    pool.waitForDone(10_000)


def test_file_menu_opens_a_folder_of_runs(qtbot, window, parent):
    file_menu = window.menuBar().actions()[0].menu()
    assert window.open_runs in file_menu.actions()
    runs = window.open_runs_folder(str(parent))
    qtbot.waitUntil(lambda: runs.view.model.rowCount() == len(NAMES), timeout=WINDOW_TIMEOUT_MS)
    assert runs.isVisible() and runs.windowTitle() == f"Runs — {parent}"
    runs.close()


def test_a_run_whose_training_file_was_read_from_its_ends_is_plotted_whole(qtbot, parent, tmp_path, monkeypatch):
    monkeypatch.setattr("ckptgui.workspace.runs.END_SPAN", 300)  # the fixture's training files are a few KiB
    shutil.copytree(parent, tmp_path / "runs")
    pool = QThreadPool()
    widget = RunsView(pool)
    qtbot.addWidget(widget)
    widget.open_folder(str(tmp_path / "runs"))
    qtbot.waitUntil(lambda: widget.model.rowCount() == len(NAMES), timeout=WINDOW_TIMEOUT_MS)
    assert not widget.folder.loaded("sweep/small")  # the table took the training file's ends only
    widget.select_runs(["sweep/small"])
    assert widget.plots.drawing  # until its points are read
    qtbot.waitUntil(lambda: not widget.plots.drawing, timeout=WINDOW_TIMEOUT_MS)
    loss = read_scalars(tmp_path / "runs" / "sweep" / "small")["."]["loss"]
    x, y = widget.plots.curve_data("sweep/small", "loss")
    np.testing.assert_array_equal(x, loss.steps)
    np.testing.assert_array_equal(y, loss.values)
    widget._timer.stop()
    pool.waitForDone(10_000)


def test_plots_share_one_x_range_fitted_to_the_data_and_a_pan_moves_them_all(qtbot, view):
    view.select_runs(["sweep/small", "sweep/wide", "estimator"])
    qtbot.waitUntil(lambda: not view.plots.drawing and len(view.plots.legend_names()) == 3, timeout=5000)
    plots = list(view.plots._plots.values())
    assert len(plots) >= 2
    ranges = {tuple(plot.vb.viewRange()[0]) for plot in plots}
    assert len(ranges) == 1  # set plot by plot, not linked, but one range
    ((low, high),) = ranges
    assert low <= 0 and high >= 200  # the estimator's 200 steps inside
    for tag, plot in view.plots._plots.items():
        bottom, top = plot.vb.viewRange()[1]
        for run in view.plots._plotted:
            if (run, tag) in view.plots._curves:
                _, y = view.plots.curve_data(run, tag)
                assert bottom <= np.nanmin(y) and np.nanmax(y) <= top, (run, tag)

    first_tag, first = next(iter(view.plots._plots.items()))
    first.vb.translateBy(x=50)  # a pan by hand: ViewBox emits sigRangeChangedManually for mouse moves only
    first.vb.sigRangeChangedManually.emit(first.vb.state["mouseEnabled"])
    moved = tuple(first.vb.viewRange()[0])
    assert moved[0] == pytest.approx(low + 50)
    assert all(tuple(plot.vb.viewRange()[0]) == moved for plot in plots)
    assert first_tag not in view.plots._following
    qtbot.mouseClick(view.plots.fit_button, Qt.MouseButton.LeftButton)
    assert first_tag in view.plots._following
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    assert all(tuple(plot.vb.viewRange()[0]) == (low, high) for plot in plots)


def test_plots_are_painted_once_the_selection_is_drawn_or_after_a_bounded_wait(qtbot, view, monkeypatch):
    view.select_runs(["sweep/small"])
    assert not view.plots.graphics.updatesEnabled()  # held while the run is read whole and drawn
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    assert view.plots.graphics.updatesEnabled() and view.plots.legend_names() == ["sweep/small"]

    monkeypatch.setattr("ckptgui.gui.widgets.runs_plots.HOLD_MAX_MS", 300)
    monkeypatch.setattr(view.folder, "loaded", lambda run: False)  # a read that never completes
    view.select_runs(["sweep/small", "sweep/wide"])
    assert not view.plots.graphics.updatesEnabled()
    qtbot.waitUntil(view.plots.graphics.updatesEnabled, timeout=3000)  # painted anyway, after HOLD_MAX_MS
    assert view.plots.drawing  # sweep/wide is still awaited


def test_a_best_checkpoint_whose_value_cannot_be_drawn_is_not_marked_and_the_drawing_ends(qtbot, view, monkeypatch):
    assert view.folder.row("sweep/small").best_step is not None
    read = view.folder.series

    def diverged(run):  # the training loss is NaN at every step, the best checkpoint's included
        series = read(run)
        series["loss"] = dataclasses.replace(series["loss"], values=np.full(len(series["loss"]), np.nan))
        return series

    monkeypatch.setattr(view.folder, "series", diverged)
    view.select_runs(["sweep/small"])
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)  # before: NaN marks never settled, no end
    assert "sweep/small" not in view.plots.best_marker("loss")
    assert "sweep/small" in view.plots.best_marker("eval/accuracy")
    view.plots.log_scale.setChecked(True)  # log10 of the accuracies, all positive: still marked
    qtbot.waitUntil(lambda: not view.plots.drawing, timeout=5000)
    assert "sweep/small" in view.plots.best_marker("eval/accuracy")
