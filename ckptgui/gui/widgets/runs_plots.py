"""The runs view's plots: the selected runs' curves overlaid, one plot per tag, each run in its own colour.

Redrawn in slices, one plot's ranges, curves and markers per turn of the event loop, so that a poll while ten runs
train never holds the GUI thread for more than a few milliseconds at a time (``benchmarks/bench_runs.py``: the
heartbeat's p99). The curves are downsampled here, to the visible x range (:mod:`runs_downsample`), and the grid
is drawn with the curves (:mod:`grid`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from ckptgui.gui.widgets.grid import light_axes
from ckptgui.gui.widgets.plots import DEFAULT_SMOOTHING, X_HEADROOM
from ckptgui.gui.widgets.runs_downsample import peak_downsample
from ckptgui.gui.widgets.runs_table import run_color
from ckptgui.workspace.runs import RunsFolder
from ckptgui.workspace.smoothing import ema

X_AXES = ("step", "relative wall time (s)")
BEST_SYMBOL = "star"
SPARSE_POINTS = 50
# A paint of ten live runs' curves must take a few ms, not a heartbeat's worth. Measured here (3 plots x 10 runs x
# 4,000 points, raw and smoothed): width-2 pens 105 ms a paint (Qt's wide-line path), width 1 20 ms; peak
# downsampling to one point per pixel instead of pyqtgraph's 5 per pixel (no downsampling below 5 points a pixel)
# halves that again, the min and max of every two pixels kept. The view downsamples itself (peak_downsample), to
# the visible x range: pyqtgraph's own downsampling and clipping ran again for every curve at each x range change.
SAMPLES_PER_PIXEL = 0.5
# The y range moves when the data leaves it or fills less than 1/Y_SLACK of it, with Y_PADDING room each side and
# Y_GROWTH on the side the data left by: a move repaints the plot's axes and curves, while a live loss falls (an
# accuracy rises) a little at every poll.
Y_PADDING = 0.08
Y_GROWTH = 0.3
X_PADDING = 0.02
Y_SLACK = 2
DRAIN_GAP_MS = 1
# A slice of a redraw is followed by the paint of what it changed (5-15 ms for one plot): the two together must stay
# under a heartbeat's worth.
SLICE_MS = 5
HOLD_MAX_MS = 3000  # the longest the plots wait for newly selected runs before they are painted anyway
RESAMPLE_MS = 40  # after a pan, zoom or resize, the curves are downsampled again at most this often


def _main_tag(tag: str) -> bool:
    """Plotted without "All tags": losses and accuracies (``loss``, ``eval/average_loss``, ``epoch_accuracy``).

    Estimator and Keras write many more scalars per run (zero fractions, learning rates, steps per second); with
    ten runs selected, a plot for each would leave every plot a few pixels high.
    """
    name = tag.rpartition("/")[2]
    return "loss" in name or "accuracy" in name


class RunsPlots(QWidget):
    """The curves of the runs ``selected`` names, from ``folder``; colours from ``colors`` (shared with the table)."""

    def __init__(
        self, colors: dict[str, QColor], selected: Callable[[], list[str]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.folder: RunsFolder | None = None
        self.colors = colors
        self._selected_runs = selected
        self.awaited: set[str] = set()  # selected runs whose every point is still to be read (RunsFolder.load)
        self._plots: dict[str, pg.PlotItem] = {}
        self._curves: dict[tuple[str, str], tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        # Every point of each curve (x, raw y, smoothed y); the items hold them downsampled to the view.
        self._data: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # Each curve's finite raw y (lowest, highest), of all its points and of its positive ones (log scale): the
        # plots' y ranges are fitted at every poll, from these rather than from every point of every curve.
        self._y_bounds: dict[tuple[str, str], tuple[tuple[float | None, float | None], ...]] = {}
        self._reshow: list[tuple[str, str]] = []  # curves to downsample again, in slices
        self._fitted: list[str] = []  # the plotted runs when the x range was last fitted
        self._x_range: tuple[float, float] | None = None  # every plot's x range, as fitted or panned by hand
        self._y_ranges: dict[str, tuple[float, float]] = {}  # followed plots' y ranges, as fitted
        self._applied_x: dict[str, tuple[float, float] | None] = {}  # the ranges each plot was last moved to
        self._applied_y: dict[str, tuple[float, float]] = {}
        self._setting_ranges = False  # a plot's ranges being set by the view, not by a pan or zoom
        self._best: dict[str, pg.ScatterPlotItem] = {}
        self._marks: dict[str, list[dict]] = {}  # each plot's best-checkpoint markers, as chosen by _choose_marks
        self._best_spots: dict[str, list[dict]] = {}  # what each plot's markers were last given
        self._plotted: list[str] = []
        self._laid_out: list[str] = []  # the plots' tags, as last laid out
        self._pending: list[str] = []  # runs to draw again, in slices
        self._drain_scheduled = False
        self._following: set[str] = set()  # plots whose range follows the data (not panned or zoomed by hand)
        self._weight = DEFAULT_SMOOTHING
        self._resample = QTimer(self, singleShot=True, interval=RESAMPLE_MS)
        self._resample.timeout.connect(self._view_moved)

        self.x_axis = QComboBox()
        self.x_axis.addItems(X_AXES)
        self.x_axis.currentIndexChanged.connect(lambda _i: self._x_axis_changed())
        self.smoothing = QSlider(Qt.Orientation.Horizontal, maximumWidth=200)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(DEFAULT_SMOOTHING * 100))
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.toggled.connect(self._log_scale_changed)
        self.all_tags = QCheckBox("All tags")
        self.all_tags.toggled.connect(lambda _on: self.redraw(self._plotted))
        bar = QHBoxLayout()
        for widget in (QLabel("x axis"), self.x_axis, QLabel("Smoothing"), self.smoothing, self.log_scale):
            bar.addWidget(widget)
        bar.addWidget(self.all_tags)
        self.fit_button = QPushButton("Fit to data")
        self.fit_button.setToolTip(
            "Fit every plot to its curves again and follow them as runs train (after a pan or zoom)"
        )
        self.fit_button.clicked.connect(self.follow_data)
        bar.addWidget(self.fit_button)
        bar.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.legend = pg.LegendItem()  # its own cell, right of the plots: never over the data
        self.graphics.addItem(self.legend, row=0, col=1)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.legend = pg.LegendItem()  # its own cell, right of the plots: never over the data
        self.graphics.addItem(self.legend, row=0, col=1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)

    def show_runs(self, selected: list[str]) -> None:
        """After the selection changed: the runs not plotted yet drawn (the plots painted once they are)."""
        new = [run for run in selected if run not in self._plotted]
        if new:
            self._hold_paints()
        self.redraw(new)

    def polled(self, changed: set[str]) -> None:
        """After a poll: selected runs now read whole drawn, and those whose points changed drawn again."""
        if self.folder is None:
            return
        awaited = self.awaited
        self.awaited = {run for run in awaited if not self.folder.loaded(run)}
        arrived = awaited - self.awaited  # read whole: drawn now (the drawing skipped them until then)
        stale = [run for run in self._selected_runs() if run in arrived or run in changed]
        if stale:
            self.redraw(stale)

    def curve_data(self, run: str, tag: str, smoothed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The x and y of one run's curve in one plot, every point (the plot draws them downsampled to the view)."""
        x, raw, smooth = self._data[(run, tag)]
        return x, smooth if smoothed else raw

    def curve_color(self, run: str, tag: str) -> QColor:
        return self._curves[(run, tag)][1].opts["pen"].color()

    def best_marker(self, tag: str) -> dict[str, tuple[float, float]]:
        """Run -> (x, y) of its best checkpoint's mark in one plot."""
        return {p.data(): (p.pos().x(), p.pos().y()) for p in self._best[tag].points()}

    def legend_names(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]

    def _hold_paints(self) -> None:
        """No paint of the plots until the runs just selected are drawn: one paint of the result, not one per slice
        of its drawing (the plots' paints took most of the time a selection of ten runs took to appear)."""
        if self.graphics.updatesEnabled():
            self.graphics.setUpdatesEnabled(False)
            QTimer.singleShot(HOLD_MAX_MS, self, self._release_paints)  # whatever happens to the drawing

    @Slot()
    def _release_paints(self) -> None:
        self.graphics.setUpdatesEnabled(True)

    def _plot_for(self, tag: str) -> pg.PlotItem:
        plot = self._plots.get(tag)
        if plot is None:
            plot = pg.PlotItem(title=tag)
            light_axes(plot)
            plot.setLogMode(y=self.log_scale.isChecked())
            plot.setLabel("bottom", self.x_axis.currentText())
            # The view fits the data itself (_fit), once per redraw: pyqtgraph's auto range looked at every item at
            # every paint, the largest cost of a poll while ten runs train. A pan or zoom by hand stops the fitting.
            plot.disableAutoRange()
            plot.hideButtons()  # pyqtgraph's auto-range button: "Fit to data" does it, for every plot
            plot.vb.sigRangeChangedManually.connect(lambda *_a, t=tag: self._moved_by_hand(t))
            plot.vb.sigXRangeChanged.connect(self._view_changed)
            plot.vb.sigResized.connect(self._view_changed)
            self._following.add(tag)
            self.graphics.addItem(plot, row=len(self._plots), col=0)
            best = pg.ScatterPlotItem(symbol=BEST_SYMBOL, size=14, pen=pg.mkPen("k"))
            best.setZValue(10)
            plot.addItem(best)
            self._plots[tag], self._best[tag] = plot, best
        return plot

    def redraw(self, runs: list[str]) -> None:
        """Draw ``runs`` again (new points, new selection) and drop the curves of runs no longer selected.

        Curves that exist get new data in place; plots are laid out again, and the legend rebuilt, only when the
        set of plots or of plotted runs changed. Runs are drawn in slices of at most ``SLICE_MS``, the event
        loop turning between them (as the single-run plots do), and the plots are painted once, at the end.
        """
        self._pending.extend(run for run in runs if run not in self._pending)
        self._schedule_drain()  # a poll's table update is painted first

    @property
    def drawing(self) -> bool:
        """A redraw is still to come (runs queued, the plots not yet finished, selected runs' points being read)."""
        return (
            bool(self._pending or self._reshow)
            or self._drain_scheduled
            or bool(self.awaited & set(self._selected_runs()))
        )

    @Slot()
    def _view_changed(self) -> None:
        """A pan, zoom or resize: the curves downsampled again for the new range, once the moves pause."""
        if not self._setting_ranges and not self._resample.isActive():
            self._resample.start()

    def _moved_by_hand(self, tag: str) -> None:
        """A pan or zoom of one plot: its y range no longer follows the data, and every plot shows its x range."""
        self._following.discard(tag)
        self._applied_y.pop(tag, None)  # where the hand left it: fitted again, if followed again
        low, high = self._plots[tag].vb.viewRange()[0]
        self._x_range = (low, high)
        for other, plot in self._plots.items():
            if other != tag:
                plot.vb.setXRange(low, high, padding=0)
            self._applied_x[other] = self._x_range

    def _next_plot(self) -> str | None:
        """The first plot with curves to downsample again, ranges or markers to move, in the plots' order."""
        due = {key[1] for key in self._reshow}
        due |= {tag for tag, spots in self._marks.items() if self._best_spots.get(tag) != spots}
        due |= {tag for tag in self._plots if self._applied_x.get(tag) != self._x_range}
        due |= {
            tag for tag in self._following if tag in self._y_ranges and self._applied_y.get(tag) != self._y_ranges[tag]
        }
        return next((tag for tag in self._plots if tag in due), None)

    def _apply_ranges(self, tag: str) -> None:
        """One plot moved to the ranges :meth:`_fit` chose, if it is not there yet."""
        x_range = self._x_range if self._applied_x.get(tag) != self._x_range else None
        y_range = self._y_ranges.get(tag) if tag in self._following else None
        if y_range == self._applied_y.get(tag):
            y_range = None
        if x_range is None and y_range is None:
            return
        self._setting_ranges = True  # not a pan: its curves are downsampled in this turn
        try:
            self._plots[tag].vb.setRange(xRange=x_range, yRange=y_range, padding=0)
        finally:
            self._setting_ranges = False
        if x_range is not None:
            self._applied_x[tag] = x_range
        if y_range is not None:
            self._applied_y[tag] = y_range

    @Slot()
    def _view_moved(self) -> None:
        self._reshow = list(self._curves)
        self._schedule_drain()

    def _schedule_drain(self) -> None:
        """The next slice of a redraw, on a timer rather than as a queued call: a slice's paint, and other timers,
        come before the next slice (queued calls and the paints they caused ran back to back, 30-60 ms without a
        timer's turn, while ten runs trained)."""
        if not self._drain_scheduled:
            self._drain_scheduled = True
            QTimer.singleShot(DRAIN_GAP_MS, self, self._drain)  # not after the view is deleted

    @Slot()
    def _drain(self) -> None:
        """One slice of a redraw: new points of queued runs, then curves downsampled to the view, then the rest.

        Each turn of the event loop does at most ``SLICE_MS`` of it; the plots are fitted before any curve is
        downsampled (a fit that moves the x range would make that work void), and one plot's curves are given their
        new points per turn: the paint that follows is one plot's, not all of them (a paint of ten runs in three
        plots took 15-40 ms here while the runs trained, a heartbeat's worth).
        """
        self._drain_scheduled = False
        selected = self._selected_runs() if self.folder is not None else []
        for key in [k for k in self._curves if k[0] not in selected]:
            self._drop_curve(key)
        deadline = time.perf_counter() + SLICE_MS / 1000
        while self._pending and time.perf_counter() < deadline:
            run = self._pending.pop(0)
            if run in selected and run not in self.awaited:  # an awaited run is drawn when read whole
                self._draw_run(run)
        if not self._pending:
            for tag in [t for t in self._plots if not any(k[1] == t for k in self._curves)]:
                self.graphics.removeItem(self._plots.pop(tag))
                del self._best[tag]
                for cached in (self._marks, self._best_spots, self._y_ranges, self._applied_x, self._applied_y):
                    cached.pop(tag, None)
                self._following.discard(tag)
            self._fit()
            tag = self._next_plot()
            if tag is not None and time.perf_counter() < deadline:
                self._apply_ranges(tag)  # the plot's ranges move in the turn its curves get their points
                for key in [k for k in self._reshow if k[1] == tag]:
                    if time.perf_counter() >= deadline:
                        break
                    self._reshow.remove(key)
                    self._show(key)
                if not any(key[1] == tag for key in self._reshow):
                    self._set_marks(tag)
        if self._pending or self._next_plot() is not None:
            self._schedule_drain()
            return
        plotted = [run for run in selected if any(k[0] == run for k in self._curves)]
        if list(self._plots) != self._laid_out:
            self._relayout()
        if plotted != self._plotted:
            self._plotted = plotted
            self.legend.clear()
            for run in plotted:
                sample = next(smooth for (r, _t), (_raw, smooth) in self._curves.items() if r == run)
                self.legend.addItem(sample, run)
        self._choose_marks()
        if self._next_plot() is not None:  # markers to move: one plot's per turn, as its curves
            self._schedule_drain()
        elif not self.graphics.updatesEnabled() and not self.awaited & set(selected):
            self._release_paints()

    def _fit(self) -> None:
        """Followed plots' ranges around their curves (log10 of y on a log scale, as pyqtgraph plots it).

        One x range for all, a y range each. The ranges move only when the plotted runs changed or their data
        left them; while a plotted run trains, the x range reaches ``X_HEADROOM`` times past the data, so it moves
        (and every curve is downsampled again) a few times per run rather than at every poll. A new x range is not
        set here but by :meth:`_drain`, on each plot in the turn that gives its curves their points for it: the
        plots' x axes are not linked, because a move of three linked plots was one paint of all of them (30 ms
        here while ten runs trained, against 5-10 ms for one plot).
        """
        log = self.log_scale.isChecked()
        runs = sorted({run for run, _tag in self._data})
        low = min((float(d[0][0]) for d in self._data.values() if d[0].size), default=None)
        high = max((float(d[0][-1]) for d in self._data.values() if d[0].size), default=None)
        followed = [tag for tag in self._plots if tag in self._following]
        for tag in followed:
            ys = [
                v
                for (_run, t), bounds in self._y_bounds.items()
                if t == tag
                for v in bounds[1 if log else 0]
                if v is not None
            ]
            if ys:
                bottom, top = (math.log10(v) for v in (min(ys), max(ys))) if log else (min(ys), max(ys))
                shown = self._y_ranges.get(tag)
                if runs != self._fitted or shown is None:
                    self._y_ranges[tag] = _padded(bottom, top, Y_PADDING, Y_PADDING)
                elif not shown[0] <= bottom <= top <= shown[1] or top - bottom < (shown[1] - shown[0]) / Y_SLACK:
                    # Room to grow on the side the data left by: a live loss falls, an accuracy rises, a little
                    # at every poll, and each move repaints the plot's axis and curves.
                    low_room = Y_GROWTH if bottom < shown[0] else Y_PADDING
                    self._y_ranges[tag] = _padded(bottom, top, low_room, Y_GROWTH if top > shown[1] else Y_PADDING)
        if not followed or low is None or high is None:
            return
        if runs == self._fitted and self._x_range is not None and self._x_range[0] <= low <= high <= self._x_range[1]:
            return
        assert self.folder is not None
        training = any(self.folder.row(run).status == "training" for run in runs)
        end = low + (high - low) * X_HEADROOM if training else high
        margin = (end - low) * X_PADDING or 0.5  # a single step still gets a range
        self._x_range = (low - margin, end + margin)
        self._fitted = runs
        self._resample.stop()  # every curve is downsampled again, each plot's in the turn its range moves
        self._reshow = list(self._curves)

    def follow_data(self) -> None:
        """Fit every plot to its data again, and keep doing so (after a pan or zoom by hand)."""
        self._following = set(self._plots)
        self._fitted = []
        self._schedule_drain()

    def _drop_curve(self, key: tuple[str, str]) -> None:
        raw, smooth = self._curves.pop(key)
        del self._data[key], self._y_bounds[key]
        if key in self._reshow:
            self._reshow.remove(key)
        self._fitted = []  # fitted again to the curves left
        self._plots[key[1]].removeItem(raw)
        self._plots[key[1]].removeItem(smooth)

    def _draw_run(self, run: str) -> None:
        assert self.folder is not None
        series = self.folder.series(run)
        by_wall = self.x_axis.currentIndex() == 1
        start = min((float(s.wall_times[0]) for s in series.values() if len(s)), default=0.0)
        color = self.colors.get(run, run_color(0))
        faint = QColor(color)
        faint.setAlpha(70)
        drawn = set()
        for tag, s in sorted(series.items()):
            if not len(s) or not (self.all_tags.isChecked() or _main_tag(tag)):
                continue
            x = s.wall_times - start if by_wall else s.steps.astype(np.float64)
            smoothed = ema(s.values, self._weight)[0]
            drawn.add(tag)
            key = (run, tag)
            if key not in self._curves:
                plot = self._plot_for(tag)
                raw = plot.plot(pen=pg.mkPen(faint, width=1))
                self._curves[key] = (raw, plot.plot(pen=pg.mkPen(color, width=1), symbolSize=5, symbolBrush=color))
            # Sparse series (an evaluation per checkpoint) also get dots: a lone point draws no line. A live run's
            # series outgrows them: thousands of dots per curve made a paint of ten runs 100 ms.
            symbol = "o" if len(s) <= SPARSE_POINTS else None
            if self._curves[key][1].opts["symbol"] != symbol:
                self._curves[key][1].setSymbol(symbol)
            self._data[key] = (x, s.values, smoothed)
            self._y_bounds[key] = (_bounds(s.values), _bounds(s.values[s.values > 0]))
            if key not in self._reshow:
                self._reshow.append(key)
        for key in [k for k in self._curves if k[0] == run and k[1] not in drawn]:
            self._drop_curve(key)

    def _show(self, key: tuple[str, str]) -> None:
        """One curve's items given its points downsampled to the plot's x range and width."""
        x, raw, smooth = self._data[key]
        view = self._plots[key[1]].vb
        low, high = view.viewRange()[0]
        columns = max(1, round(view.width() * SAMPLES_PER_PIXEL))
        for item, y in zip(self._curves[key], (raw, smooth), strict=True):
            item.setData(*peak_downsample(x, y, low, high, columns))

    def _relayout(self) -> None:
        """Plots one under the other, in the order they appeared, with the x axis' label."""
        for index, plot in enumerate(self._plots.values()):
            self.graphics.ci.layout.removeItem(plot)
            self.graphics.ci.layout.addItem(plot, index, 0)
            plot.setLabel("bottom", self.x_axis.currentText())
            plot.showLabel("bottom", index == len(self._plots) - 1)  # the x axes are linked: named once, below
        self._laid_out = list(self._plots)

    def _choose_marks(self) -> None:
        """A star on each plotted run's best checkpoint step, in every plot that has a point there (each plot's
        set by :meth:`_set_marks`, in a turn of its own: markers set again cost 1-4 ms a poll while runs train,
        and the paint that follows is the plot's)."""
        spots: dict[str, list[dict]] = {tag: [] for tag in self._best}
        for run in self._plotted:
            assert self.folder is not None
            step = self.folder.row(run).best_step
            if step is None:
                continue
            series = self.folder.series(run)
            for tag in spots:
                key = (run, tag)
                if key not in self._curves:
                    continue
                s = series[tag]
                at = int(np.searchsorted(s.steps, step))
                if at >= len(s) or s.steps[at] != step:
                    continue
                y = float(s.values[at])
                if self.log_scale.isChecked():
                    y = math.log10(y) if y > 0 else math.nan
                if not math.isfinite(y):
                    continue  # no place to mark (NaN, or not positive on a log scale); NaN != NaN: marks never settle
                spots[tag].append({"pos": (self._data[key][0][at], y), "brush": self.colors[run], "data": run})
        self._marks = spots

    def _set_marks(self, tag: str) -> None:
        spots = self._marks.get(tag)
        if spots is not None and self._best_spots.get(tag) != spots:
            self._best[tag].setData(spots)
            self._best_spots[tag] = spots

    def _x_axis_changed(self) -> None:
        self._fitted = []  # steps and seconds: another range
        self.redraw(self._plotted)
        self._relayout()

    @Slot(int)
    def _smoothing_changed(self, value: int) -> None:
        self._weight = value / 100
        self.redraw(self._plotted)

    @Slot(bool)
    def _log_scale_changed(self, on: bool) -> None:
        self._y_ranges.clear()  # fitted again, in log10 or plain values
        for plot in self._plots.values():
            plot.setLogMode(y=on)
        self._choose_marks()
        self._schedule_drain()  # fitted again, markers moved


def _padded(bottom: float, top: float, below: float, above: float) -> tuple[float, float]:
    """``bottom``-``top`` with room below and above, as fractions of its span (of its size when it is flat)."""
    span = top - bottom or max(abs(top), 1e-12)
    return bottom - span * below, top + span * above


def _bounds(values: np.ndarray) -> tuple[float | None, float | None]:
    """The lowest and highest finite value (None, None when there is none)."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (None, None)
