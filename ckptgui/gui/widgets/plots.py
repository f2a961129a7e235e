"""Live scalar plots from the model_dir's events files: one plot per tag, one curve per run.

The events reader is polled off the GUI thread (one poll at a time); each poll
hands back whole series as read-only arrays, which go straight into pyqtgraph
(no copies). Plots downsample (peak) and clip to the view, so a million points
stay smooth, as pyqtgraph's scrollingPlots example does. Smoothing is
TensorBoard's debiased exponential moving average, computed once per new
point, not per redraw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from ckptgui.gui.widgets.grid import light_axes
from ckptgui.gui.widgets.live import LiveLabel
from ckptgui.gui.workers import Task
from ckptgui.storage import scheme_of
from ckptgui.workspace.polling import FIRST_S
from ckptgui.workspace.smoothing import EMA_START, EmaState, ema

if TYPE_CHECKING:  # imported when first needed: the events reader is not needed for the first paint
    from ckptgui.formats.events import ScalarReader, ScalarSeries

TAG_ORDER = ("loss", "accuracy")
SECONDARY_TAGS = frozenset({"global_step/sec", "learning_rate"})  # plotted only with "All tags"
RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FIXED_RUN_COLORS = {".": RUN_COLORS[0], "eval": RUN_COLORS[1]}  # training and evaluation look the same everywhere
LIVE_MARKER = QColor(46, 125, 50, 150)
SWEPT_MARKER = QColor(120, 120, 120, 55)
MARKER_SPACING_PX = 6  # closest two checkpoint markers are drawn; denser ones are thinned
X_HEADROOM = 1.5  # while training, the x axis reaches this far past the data (in steps run so far)
MAX_MARKERS = 2000  # per kind; all drawn by one item in one call
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default
POLL_MS_TRAINING = 2000  # while a run trains here: each redraw is GUI-thread time (GIL held) the trainer waits for
POLL_MS_IDLE = 1000
# Event files in a bucket: each poll is a request (one recursive listing when nothing changed), so as seldom as
# the directory view's first interval there (ckptgui.workspace.polling).
POLL_MS_REMOTE = round(FIRST_S * 1000)
APPLY_SLICE_MS = 8  # the longest stretch of plotting new series before the event loop gets a turn


class CheckpointMarkers(pg.GraphicsObject):
    """Vertical lines at checkpoint steps across the whole view, one item and one draw call for all of them.

    One InfiniteLine per checkpoint costs a Python paint per line per plot; a few hundred swept checkpoints
    made every redraw take most of a second and starved the GUI thread while training.
    """

    def __init__(self, color: QColor, style: Qt.PenStyle) -> None:
        super().__init__()
        self.pen = pg.mkPen(color, width=1, style=style)
        self._steps = np.empty(0)
        self._lines: tuple[tuple, list[QLineF]] = ((), [])  # built once per view range and set of steps
        self.setZValue(5)

    def set_steps(self, steps: tuple[int, ...]) -> None:
        self.prepareGeometryChange()
        self._steps = np.asarray(steps, dtype=np.float64)
        self.update()

    def steps(self) -> list[int]:
        return [int(s) for s in self._steps]

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()  # the lines span the view: the bounds follow it

    def boundingRect(self) -> QRectF:
        view = self.getViewBox()
        if view is None or not self._steps.size:
            return QRectF()
        area = view.viewRect()
        left, right = float(self._steps.min()), float(self._steps.max())
        return QRectF(left, area.top(), max(right - left, 1e-9), area.height())

    def paint(self, painter: QPainter, *_: Any) -> None:
        view = self.getViewBox()
        if view is None or not self._steps.size:
            return
        area = view.viewRect()
        key = (area.left(), area.right(), area.top(), area.bottom(), self._steps.size, self._steps[-1])
        pixels = view.width()
        key = (*key, round(pixels))
        if self._lines[0] != key:
            shown = self._steps[(self._steps >= area.left()) & (self._steps <= area.right())]
            room = max(1, int(pixels / MARKER_SPACING_PX))
            if shown.size > room:  # more lines than the view can tell apart: every k-th, the newest kept
                shown = shown[::-1][:: -(-shown.size // room)][::-1]
            self._lines = (key, [QLineF(x, area.top(), x, area.bottom()) for x in shown])
        painter.setPen(self.pen)
        painter.drawLines(self._lines[1])


class _Graphics(pg.GraphicsLayoutWidget):
    """The plots' canvas, saying when the pointer leaves it (an event filter would see every paint)."""

    left = Signal()

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.left.emit()


@dataclass
class _Curve:
    run: str
    tag: str
    steps: np.ndarray
    values: np.ndarray
    raw_item: pg.PlotDataItem
    smooth_item: pg.PlotDataItem
    smoothed: np.ndarray | None = None
    state: EmaState = EMA_START


def poll_reader(reader: ScalarReader) -> list[tuple[ScalarSeries, bool]]:
    """Runs on a pool thread: (full series, reset) for every (run, tag) that changed.

    Whole series, not just the new points: the arrays are read-only views (no
    copy), and a curve is then always exactly what the reader holds.
    """
    changed: dict[tuple[str, str], bool] = {}
    for part in reader.poll():
        changed[(part.run, part.tag)] = changed.get((part.run, part.tag), False) or part.reset
    return [(reader.series(run, tag), reset) for (run, tag), reset in sorted(changed.items())]


def is_sparse(run: str) -> bool:
    """Evaluation runs (``eval``, ``eval_*``: one point per checkpoint) are drawn raw; training series smoothed."""
    return run == "eval" or run.startswith("eval_")


def title_with_legend(title: str, entries: list[tuple[str, str, bool]]) -> str:
    """A plot title naming its series in their colours — the legend outside the data, where it hides nothing.

    ``entries``: (label, colour, drawn as points) per series.
    """
    keys = "".join(
        f"&nbsp;&nbsp;<span style='color:{colour}'>{'●' if points else '━'} {label}</span>"
        for label, colour, points in entries
    )
    return f"{title}<span style='font-size:9pt'>{keys}</span>" if keys else title


def run_label(run: str) -> str:
    return "train" if run == "." else run


class PlotPanel(QWidget):
    """Loss, accuracy, evaluation metrics and anything else the events files hold, against step."""

    updated = Signal()  # after new points were drawn
    failed = Signal(str, str)

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: str | None = None
        self.reader: ScalarReader | None = None
        self._curves: dict[tuple[str, str], _Curve] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._shown: list[pg.PlotItem] = []
        self._fixed_x: tuple[int, int] | None = None
        self._markers: dict[str, list[CheckpointMarkers]] = {}
        self._crosshairs: dict[str, pg.InfiniteLine] = {}
        self._parked: dict[tuple[str, str], ScalarSeries] = {}  # series of tags not plotted (SECONDARY_TAGS)
        self._backlog: dict[tuple[str, str], tuple[ScalarSeries, bool]] = {}  # polled series not plotted yet
        self._drained_tags: set[str] = set()  # tags given new points by the poll being plotted
        self._marker_steps: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
        self._pending_markers: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._runs: list[str] = []
        self._weight = DEFAULT_SMOOTHING
        self._log = False
        self._task = Task(pool, self, self._apply, self.failed)
        self._idle_ms = POLL_MS_IDLE
        self._timer = QTimer(self, interval=POLL_MS_IDLE)
        self._timer.timeout.connect(self.poll)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(DEFAULT_SMOOTHING * 100))
        self.smoothing.setMaximumWidth(220)
        self.smoothing.setToolTip("Exponential moving average, as TensorBoard's smoothing slider")
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.smoothing_label = QLabel(f"{DEFAULT_SMOOTHING:.2f}")
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setToolTip("Logarithmic y axis")
        self.log_scale.toggled.connect(self.set_log_scale)
        self.all_tags = QCheckBox("All tags")
        self.all_tags.setToolTip("Also plot " + " and ".join(sorted(SECONDARY_TAGS)))
        self.all_tags.toggled.connect(self._show_all_tags)
        self.readout = LiveLabel("No model_dir open")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.smoothing)
        bar.addWidget(self.smoothing_label)
        bar.addSpacing(12)
        bar.addWidget(self.log_scale)
        bar.addWidget(self.all_tags)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.graphics = _Graphics()
        self.graphics.left.connect(self.hide_crosshair)
        self.graphics.setBackground("w")
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        for tag in TAG_ORDER:
            self._plot_for(tag)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)

    # Public API ----------------------------------------------------------------------------------
    def set_path(self, path: str | None) -> None:
        """Plot the events under ``path`` (None: nothing); drops what the previous directory showed.

        The loss and accuracy plots stay (emptied): building a plot item costs
        tens of milliseconds, which would otherwise land at the start of each run.
        """
        from ckptgui.formats.events import ScalarReader

        self._task.cancel()
        self.path = path
        for curve in self._curves.values():
            plot = self._plots[curve.tag]
            plot.removeItem(curve.raw_item)
            plot.removeItem(curve.smooth_item)
        self._curves.clear()
        self._parked.clear()
        self._backlog.clear()
        self._drained_tags.clear()
        for tag in [t for t in self._plots if t not in TAG_ORDER]:
            self._plots.pop(tag)
            self._markers.pop(tag)
            self._crosshairs.pop(tag)
        self._marker_steps = ((), ())
        self._pending_markers = None
        for tag, plot in self._plots.items():
            self._draw_markers(tag)
            self._crosshairs[tag].hide()
            plot.setTitle(tag)
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # nothing of the last model_dir's axes stays
            self._apply_x_range(plot)
        self._runs = []
        self._relayout()
        self.reader = ScalarReader(path) if path else None
        self.readout.setText("No model_dir open" if path is None else "No scalar summaries yet")
        if path is None:
            self._timer.stop()
        else:
            self._idle_ms = POLL_MS_REMOTE if scheme_of(path) else POLL_MS_IDLE
            self._timer.setInterval(self._idle_ms)
            self._timer.start()
            self.poll()

    def set_training(self, steps: tuple[int, int] | None) -> None:
        """While a run trains (``steps`` = first and target step): poll less often and keep the axes still.

        Axes are the costly part of a redraw (their text is re-rendered whenever
        their range moves). During a run the x range is the whole run and the y
        range moves only when the data leaves it or fills less than half of it;
        the view follows the data exactly again when the run ends (None).
        """
        self._timer.setInterval(self._idle_ms if steps is None else POLL_MS_TRAINING)
        self._fixed_x = steps
        if steps is None:
            self._flush_markers()
        for tag, plot in self._plots.items():
            self._apply_x_range(plot)
            self._follow_y(tag)

    @property
    def training(self) -> bool:
        return self._fixed_x is not None

    def _apply_x_range(self, plot: pg.PlotItem) -> None:
        if self._fixed_x is None:
            plot.enableAutoRange()
        else:
            plot.setXRange(*self._x_target(), padding=0.02)
            plot.enableAutoRange(y=False)

    def _x_target(self) -> tuple[int, int]:
        """During a run: from the first step to the data's last step plus headroom, never past the run's end."""
        first, end = self._fixed_x or (0, 1)
        last = max((int(c.steps[-1]) for c in self._curves.values() if c.steps.size), default=first)
        reach = max(last - first, min(end - first, 100)) * X_HEADROOM
        return first, int(min(end, first + reach))

    def _follow_x(self) -> None:
        """During a run: the x axis follows the data (not the planned total, which would leave a 3M-step run a
        sliver at the left edge), moving only when the data reaches its right end: a few times per run."""
        if self._fixed_x is None or not self._plots:
            return
        plot = next(iter(self._plots.values()))  # the others are x-linked to it
        first, right = self._x_target()
        last = max((int(c.steps[-1]) for c in self._curves.values() if c.steps.size), default=first)
        if last >= plot.vb.viewRange()[0][1]:
            plot.setXRange(first, right, padding=0.02)

    def _follow_y(self, tag: str) -> None:
        """During a run: move the y range only when the data leaves it or fills less than a third of it.

        A move re-renders the axis (its tick text: the costliest part of a
        redraw), so the new range leaves a quarter of the data's span free on
        each side: a loss that keeps falling moves it a few times per run, not
        at every poll.
        """
        if self._fixed_x is None:
            return
        arrays = [c.values for (_, t), c in self._curves.items() if t == tag and c.values.size]
        if not arrays:
            return
        data = np.concatenate(arrays)
        data = data[np.isfinite(data)]
        if self._log:
            data = np.log10(data[data > 0])
        if not data.size:
            return
        low, high = float(data.min()), float(data.max())
        view_low, view_high = self._plots[tag].vb.viewRange()[1]
        if low < view_low or high > view_high or (high - low) < (view_high - view_low) / 3:
            self._plots[tag].setYRange(low, high, padding=0.25)

    @Slot()
    def poll(self) -> None:
        """Read what the events files gained; pending checkpoint markers are drawn with it, in one redraw."""
        if self.reader is None:
            self._flush_markers()
        else:
            self._task.coalesce(poll_reader, self.reader)

    def point_count(self, run: str | None = None, tag: str | None = None) -> int:
        """Points held (plotted, or kept for a tag not plotted), for one run/tag or all."""
        held = [*((key, c.steps) for key, c in self._curves.items()), *((k, s.steps) for k, s in self._parked.items())]
        return sum(steps.size for (r, t), steps in held if (run is None or r == run) and (tag is None or t == tag))

    def tags(self) -> list[str]:
        return list(self._plots)

    def curve_data(self, run: str, tag: str, smoothed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """What the plot holds for one curve (raw or smoothed), for tests and exports."""
        curve = self._curves[(run, tag)]
        item = curve.smooth_item if smoothed else curve.raw_item
        return item.xData, item.yData

    def series(self) -> list[ScalarSeries]:
        """The full series now shown, as the events reader returned them."""
        keys = sorted({*self._curves, *self._parked})
        return [self.reader.series(run, tag) for run, tag in keys] if self.reader else []

    def marker_steps(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(live, swept) checkpoint steps drawn as markers."""
        return self._marker_steps

    def set_checkpoints(self, live: list[int], swept: list[int]) -> None:
        """Vertical markers at checkpoint steps; swept ones faded. At most the newest MAX_MARKERS.

        During a run they are drawn with the next poll's points, not at every checkpoint:
        a redraw of the plots is the costliest thing the GUI thread does, and one
        redraw for both halves the cost.
        """
        self._pending_markers = (tuple(sorted(live))[-MAX_MARKERS:], tuple(sorted(swept))[-MAX_MARKERS:])
        if self._fixed_x is None:
            self._flush_markers()

    def _flush_markers(self) -> None:
        steps, self._pending_markers = self._pending_markers, None
        if steps is None or steps == self._marker_steps:
            return
        self._marker_steps = steps
        for tag in self._plots:
            self._draw_markers(tag)

    def export_png(self, path: str) -> None:
        if not self.graphics.grab().save(path):
            raise OSError(f"{path}: cannot write the image (is the folder writable and the name .png?)")

    def export_csv(self, path: str) -> int:
        """Write every shown series as CSV rows; returns the number of series written."""
        from ckptgui.formats.events import export_csv

        series = self.series()
        with open(path, "w", newline="", encoding="utf-8") as handle:
            export_csv(series, handle)
        return len(series)

    # Drawing -------------------------------------------------------------------------------------
    @Slot(object)
    def _apply(self, changes: list[tuple[ScalarSeries, bool]]) -> None:
        self._flush_markers()
        for series, reset in changes:
            key = (series.run, series.tag)
            earlier = self._backlog.get(key)  # a later series holds every point of an earlier one
            self._backlog[key] = (series, reset or (earlier is not None and earlier[1]))
        self._drain()

    @Slot()
    def _drain(self) -> None:
        """Plot backlog series for at most APPLY_SLICE_MS, then let the event loop paint and answer input.

        The first points of a directory create two curve items per series
        (a few milliseconds each); a directory with many runs and tags would
        otherwise hold the GUI thread for one long stretch.
        """
        started = time.perf_counter()
        while self._backlog:
            series, reset = self._backlog.pop(next(iter(self._backlog)))
            self._update_curve(series, reset)
            self._drained_tags.add(series.tag)
            if self._backlog and time.perf_counter() - started > APPLY_SLICE_MS / 1000:
                QTimer.singleShot(0, self._drain)
                return
        if not self._drained_tags:
            return
        self._follow_x()
        for tag in self._drained_tags:  # once all are in: each axis moves at most once per poll
            self._follow_y(tag)
            if tag in self._plots:
                self._draw_markers(tag)
        self._drained_tags.clear()
        self._update_readout_idle()
        self.updated.emit()

    def _plot_for(self, tag: str) -> pg.PlotItem:
        """The plot of ``tag``, created on first use."""
        if tag not in self._plots:
            self._plots[tag] = self._new_plot(tag)
            self._relayout()
        return self._plots[tag]

    @Slot()
    def _relayout(self) -> None:
        """Lay the plots shown out in two columns: loss, accuracy, then by name."""
        for item in self._shown:
            self.graphics.removeItem(item)
        everything = self.all_tags.isChecked()
        tags = [t for t in self._plots if everything or t not in SECONDARY_TAGS]
        order = sorted(tags, key=lambda t: (TAG_ORDER.index(t) if t in TAG_ORDER else len(TAG_ORDER), t))
        self._shown = [self._plots[t] for t in order]
        for index, item in enumerate(self._shown):
            self.graphics.addItem(item, row=index // 2, col=index % 2)

    @Slot(bool)
    def _show_all_tags(self, on: bool) -> None:
        if on:
            parked, self._parked = self._parked, {}
            for series in parked.values():
                self._update_curve(series, reset=True)
        self._relayout()

    def shown_tags(self) -> list[str]:
        return [t for t, p in self._plots.items() if p in self._shown]

    def _new_plot(self, tag: str) -> pg.PlotItem:
        plot = pg.PlotItem(title=tag)  # its runs are named in the title row (``_title``): no legend on the data
        light_axes(plot)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.setLogMode(y=self._log)
        plot.setLabel("bottom", "step")
        first = next(iter(self._plots.values()), None)
        if first is not None:
            plot.setXLink(first)
        self._apply_x_range(plot)
        crosshair = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((80, 80, 80), style=Qt.PenStyle.DotLine))
        crosshair.setZValue(20)
        crosshair.hide()
        plot.addItem(crosshair, ignoreBounds=True)
        self._crosshairs[tag] = crosshair
        markers = [
            CheckpointMarkers(LIVE_MARKER, Qt.PenStyle.SolidLine),
            CheckpointMarkers(SWEPT_MARKER, Qt.PenStyle.DashLine),
        ]
        for item in markers:
            plot.addItem(item, ignoreBounds=True)
        self._markers[tag] = markers
        return plot

    def _color(self, run: str) -> str:
        if run in FIXED_RUN_COLORS:
            return FIXED_RUN_COLORS[run]
        if run not in self._runs:
            self._runs.append(run)
        return RUN_COLORS[(self._runs.index(run) + len(FIXED_RUN_COLORS)) % len(RUN_COLORS)]

    def _update_curve(self, series: ScalarSeries, reset: bool) -> None:
        key = (series.run, series.tag)
        if series.tag in SECONDARY_TAGS and not self.all_tags.isChecked():
            self._parked[key] = series  # no plot item until asked for: building one costs tens of ms
            return
        steps, values = series.steps, series.values
        curve = self._curves.get(key)
        if curve is None:
            plot = self._plot_for(series.tag)
            color = QColor(self._color(series.run))
            faint = QColor(color)
            faint.setAlpha(70)
            if is_sparse(series.run):  # raw, as points joined by a line: an average of a few points misleads
                raw = plot.plot(pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6, symbolBrush=color,
                                symbolPen=None, name=run_label(series.run))  # fmt: skip
                smooth = plot.plot(pen=None)
                smooth.hide()
            else:
                raw = plot.plot(pen=pg.mkPen(faint, width=1))
                smooth = plot.plot(pen=pg.mkPen(color, width=2), name=run_label(series.run))
            curve = _Curve(series.run, series.tag, steps, values, raw, smooth)
            self._curves[key] = curve
            self._title(series.tag)
            self._draw_markers(series.tag)
        extends = not reset and curve.smoothed is not None and steps.size >= curve.steps.size
        if extends:
            tail, curve.state = ema(values[curve.steps.size :], self._weight, curve.state)
            curve.smoothed = np.concatenate([curve.smoothed, tail])
        else:
            curve.smoothed, curve.state = ema(values, self._weight)
        curve.steps, curve.values = steps, values
        self._set_curve_data(curve)

    def _set_curve_data(self, curve: _Curve) -> None:
        # Log scale: pyqtgraph takes log10 of y itself; non-positive values are left out rather than warned about.
        curve.raw_item.setData(curve.steps, curve.values)
        curve.smooth_item.setData(curve.steps, curve.smoothed)

    def _title(self, tag: str) -> None:
        runs = sorted(run for run, curve_tag in self._curves if curve_tag == tag)
        plot = self._plots[tag]
        plot.setTitle(title_with_legend(tag, [(run_label(r), self._color(r), is_sparse(r)) for r in runs]))

    def _draw_markers(self, tag: str) -> None:
        live, swept = self._marker_steps
        live_item, swept_item = self._markers[tag]
        for item, steps in ((live_item, live), (swept_item, swept)):
            if item.steps() != list(steps):
                item.set_steps(steps)

    def marker_items(self, tag: str) -> tuple[CheckpointMarkers, CheckpointMarkers]:
        """(live, swept) marker items of one plot."""
        live, swept = self._markers[tag]
        return live, swept

    @Slot(int)
    def _smoothing_changed(self, value: int) -> None:
        self._weight = value / 100
        self.smoothing_label.setText(f"{self._weight:.2f}")
        for curve in self._curves.values():
            curve.smoothed, curve.state = ema(curve.values, self._weight)
            self._set_curve_data(curve)

    @Slot(bool)
    def set_log_scale(self, on: bool) -> None:
        self._log = on
        if self.log_scale.isChecked() != on:
            self.log_scale.setChecked(on)
        for plot in self._plots.values():
            plot.setLogMode(y=on)

    def set_smoothing(self, weight: float) -> None:
        self.smoothing.setValue(round(weight * 100))

    @property
    def smoothing_weight(self) -> float:
        return self._weight

    # Crosshair -----------------------------------------------------------------------------------
    def _update_readout_idle(self) -> None:
        if not any(line.isVisible() for line in self._crosshairs.values()):
            count = self.point_count()
            self.readout.setText(f"{count:,} points in {len(self._curves)} series · hover a plot for values")

    def _mouse_moved(self, event: tuple[QPointF]) -> None:
        position = event[0]
        for tag, plot in self._plots.items():
            if plot.sceneBoundingRect().contains(position):
                step = plot.vb.mapSceneToView(position).x()
                self.show_crosshair(step, tag)
                return
        self.hide_crosshair()

    def hide_crosshair(self) -> None:
        """The pointer left the plots: no crosshair, and the read-out says what is plotted again."""
        for line in self._crosshairs.values():
            line.hide()
        self._update_readout_idle()

    def show_crosshair(self, step: float, tag: str | None = None) -> str:
        """Move the crosshair of every plot to ``step`` and describe the nearest values; returns the text."""
        for line in self._crosshairs.values():
            line.setPos(step)
            line.show()
        parts = [f"<b>step {step:,.0f}</b>"]
        for name in self._plots if tag is None else [tag]:
            values = []
            for (run, curve_tag), curve in sorted(self._curves.items()):
                if curve_tag != name or curve.steps.size == 0:
                    continue
                index = int(np.clip(np.searchsorted(curve.steps, step), 0, curve.steps.size - 1))
                if index > 0 and abs(curve.steps[index - 1] - step) <= abs(curve.steps[index] - step):
                    index -= 1
                raw, smooth = curve.values[index], curve.smoothed[index]
                color = self._color(run)
                values.append(
                    f"<span style='color:{color}'>{run_label(run)}</span> {raw:.4g} "
                    f"(smoothed {smooth:.4g}) @ {int(curve.steps[index]):,}"
                )
            if values:
                parts.append(f"{name}: " + ", ".join(values))
        text = " · ".join(parts)
        self.readout.setText(text)
        return text


def default_export_name(path: str | None, suffix: str) -> str:
    name = Path(path).name if path else "scalars"
    return f"{name}-scalars.{suffix}"
