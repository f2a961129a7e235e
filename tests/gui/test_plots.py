"""The plot panel: TensorBoard's smoothing, a million points, log scale, checkpoint markers, crosshair, exports."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import WINDOW_TIMEOUT_MS, small_spec, train
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QImage

from ckptgui.formats.events import ScalarReader, ScalarSeries, export_csv
from ckptgui.gui.widgets.plots import MAX_MARKERS, PlotPanel
from ckptgui.workspace.smoothing import ema


@pytest.fixture
def panel(qtbot):
    pool = QThreadPool()
    widget = PlotPanel(pool)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    yield widget
    widget.set_path(None)
    pool.waitForDone()


def series(run: str, tag: str, steps: np.ndarray, values: np.ndarray) -> ScalarSeries:
    return ScalarSeries(run, tag, steps.astype(np.int64), np.zeros(len(steps)), values.astype(np.float64))


def test_a_million_points_are_downsampled_and_clipped(qtbot, panel):
    steps = np.arange(1_000_000)
    values = np.sin(steps / 5000.0) + 1.5
    panel._update_curve(series(".", "loss", steps, values), reset=True)
    assert panel.point_count(".", "loss") == 1_000_000
    curve = panel._curves[(".", "loss")]
    plot = panel._plots["loss"]
    assert curve.raw_item.opts["autoDownsample"] and curve.raw_item.opts["clipToView"]
    plot.setXRange(400_000, 410_000, padding=0)
    x_shown, _ = curve.raw_item.getData()
    assert x_shown is not None
    assert len(x_shown) < 50_000  # what is drawn: the visible slice, downsampled to the pixels
    assert x_shown.min() >= 390_000 and x_shown.max() <= 420_000
    np.testing.assert_array_equal(panel.curve_data(".", "loss")[0], steps)  # the data held stays whole


def test_log_scale_markers_and_crosshair(qtbot, panel):
    steps = np.arange(0, 1000, 10)
    panel._update_curve(series(".", "loss", steps, np.exp(-steps / 300.0)), reset=True)
    panel._update_curve(series("eval", "loss", steps[::10], np.exp(-steps[::10] / 250.0)), reset=True)
    panel.log_scale.setChecked(True)
    assert panel._plots["loss"].ctrl.logYCheck.isChecked()
    panel.set_checkpoints([500, 900], [100, 300])
    live, swept = panel.marker_items("loss")
    assert (live.steps(), swept.steps()) == ([500, 900], [100, 300])
    assert swept.pen.color().alpha() < live.pen.color().alpha()
    assert swept.pen.style() == Qt.PenStyle.DashLine
    panel.set_checkpoints(list(range(0, 1_000_000, 100)), [])
    assert len(panel.marker_steps()[0]) == MAX_MARKERS
    assert live.steps()[-1] == 999_900
    text = panel.show_crosshair(503.0)
    assert "step 503" in text and "@ 500" in text and "train" in text and "eval" in text


def test_new_points_extend_and_rewinds_replace(qtbot, panel):
    steps = np.arange(100)
    panel._update_curve(series(".", "loss", steps[:60], steps[:60] * 1.0), reset=True)
    panel._update_curve(series(".", "loss", steps, steps * 1.0), reset=False)
    whole, _ = ema(steps * 1.0, panel.smoothing_weight)
    np.testing.assert_allclose(panel.curve_data(".", "loss", smoothed=True)[1], whole)
    panel._update_curve(series(".", "loss", steps[:30], -steps[:30] * 1.0), reset=True)
    assert panel.point_count(".", "loss") == 30
    np.testing.assert_allclose(panel.curve_data(".", "loss", smoothed=True)[1], ema(-steps[:30] * 1.0, 0.6)[0])
    panel.set_smoothing(0.0)
    np.testing.assert_array_equal(panel.curve_data(".", "loss", smoothed=True)[1], -steps[:30] * 1.0)


def test_exports_from_a_real_run(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "run"
    train(qtbot, window, small_spec(model_dir, steps=100))
    reader = ScalarReader(model_dir)
    reader.poll()
    expected = sum(len(reader.series(run, tag).steps) for run, tags in reader.runs().items() for tag in tags)
    qtbot.waitUntil(lambda: window.panels.plots.point_count() == expected, timeout=WINDOW_TIMEOUT_MS)

    csv_path = tmp_path / "scalars.csv"
    assert window.panels.plots.export_csv(str(csv_path)) == sum(len(tags) for tags in reader.runs().values())
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == expected
    reference = tmp_path / "reference.csv"
    export_csv([reader.series(r, t) for r, tags in sorted(reader.runs().items()) for t in tags], reference)
    assert sorted(csv_path.read_text().splitlines()) == sorted(reference.read_text().splitlines())

    png = tmp_path / "plots.png"
    window.panels.plots.export_png(str(png))
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 100
    with pytest.raises(OSError, match="cannot write"):
        window.panels.plots.export_png(str(tmp_path / "missing-folder" / "plots.png"))


def test_secondary_tags_are_plotted_on_request(qtbot, panel):
    steps = np.arange(0, 500, 50)
    panel._update_curve(series(".", "learning_rate", steps, np.full(len(steps), 0.05)), reset=True)
    panel._update_curve(series(".", "loss", steps, np.exp(-steps / 100.0)), reset=True)
    assert panel.shown_tags() == ["loss", "accuracy"]
    assert panel.point_count(".", "learning_rate") == len(steps)
    panel.all_tags.setChecked(True)
    assert "learning_rate" in panel.shown_tags()
    np.testing.assert_array_equal(panel.curve_data(".", "learning_rate")[0], steps)


def test_a_big_poll_is_plotted_in_slices(qtbot, panel):
    """Forty new series (two curve items each) would hold the GUI thread in one long stretch: they come in slices."""
    panel.all_tags.setChecked(True)
    steps = np.arange(0, 1000, 10)
    changes = [(series(run, f"tag{i:02d}", steps, steps * 1.0), True) for i in range(20) for run in (".", "eval")]
    updates: list[None] = []
    panel.updated.connect(lambda: updates.append(None))
    panel._apply(changes)
    plotted_in_the_first_slice = len(panel._curves)
    qtbot.waitUntil(lambda: len(panel._curves) == 40, timeout=WINDOW_TIMEOUT_MS)
    assert 0 < plotted_in_the_first_slice < 40
    qtbot.waitUntil(lambda: updates == [None], timeout=WINDOW_TIMEOUT_MS)  # once, when everything is in
    np.testing.assert_array_equal(panel.curve_data("eval", "tag19")[0], steps)


def test_during_a_run_the_y_axis_moves_rarely_and_shows_all_points(qtbot, panel):
    """Each move of a range re-renders its axis, the costliest part of a redraw."""
    panel.set_training((0, 60_000))
    steps = np.arange(0, 60_000, 100)
    loss = 0.05 + 1.1 * np.exp(-steps / 8000) + np.random.default_rng(0).normal(0, 0.02, len(steps))
    ranges = []
    for shown in range(5, len(steps) + 1, 5):  # a poll every 500 steps
        panel._update_curve(series(".", "loss", steps[:shown], loss[:shown]), reset=False)
        panel._follow_y("loss")
        low, high = panel._plots["loss"].vb.viewRange()[1]
        assert low <= loss[:shown].min() and loss[:shown].max() <= high
        ranges.append((low, high))
    moves = sum(a != b for a, b in itertools.pairwise(ranges))
    assert moves <= len(ranges) / 10
