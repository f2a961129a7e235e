"""Two checkpoints side by side: test metrics, a sortable per-variable table, an overlaid weight histogram.

A and B can be steps of the open model_dir or of any other model_dir. The
comparison runs on the pool (``engine.compare_checkpoints``): shapes first
(warnings when they differ), then the per-variable statistics, then
both checkpoints evaluated on the test split of the form's data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui.engine import Comparison, compare_checkpoints, histograms
from ckptgui.gui.icons import icon
from ckptgui.gui.training_controller import short_path
from ckptgui.gui.widgets.compat_table import MISMATCH_BACKGROUND, CompatTable
from ckptgui.gui.widgets.directory_view import format_time
from ckptgui.gui.widgets.elided import ElidedLabel
from ckptgui.gui.widgets.plots import title_with_legend
from ckptgui.gui.workers import Task
from ckptgui.modeldir.data import Dataset
from ckptgui.modeldir.scan import CheckpointInfo, scan
from ckptgui.modeldir.snapshot import Snapshot
from ckptgui.units import human_size
from ckptgui.workspace.model import Workspace

if TYPE_CHECKING:
    from ckptgui.gui.engine import DiffReport

A_COLOR = QColor(31, 119, 180)
B_COLOR = QColor(255, 127, 14)
HISTOGRAM_HINT = "Select a variable to see its values in A and B"
VARIABLE_COLUMNS = ("Variable", "Shape A", "Shape B", "‖A‖", "‖B‖", "‖B−A‖", "max |Δ|", "Relative", "Cosine", "Note")


def fit_width(table: QTableWidget) -> None:
    """Columns as wide as their contents, and the table never narrower than them (a splitter cannot clip one).

    For tables without a vertical header (its width is not known before the table is laid out)."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    columns = sum(max(table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(table.columnCount()))
    table.setMinimumWidth(columns + 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width())


def scan_job(path: str) -> list[CheckpointInfo]:
    return list(scan(path).checkpoints)


class _NumberItem(QTableWidgetItem):
    """Sorts by its number; empty cells last."""

    def __init__(self, value: float | None, text: str | None = None) -> None:
        super().__init__(text if text is not None else ("—" if value is None else f"{value:.4g}"))
        self.value = value

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine = self.value if self.value is not None else float("inf")
        theirs = getattr(other, "value", None)
        return mine < (theirs if theirs is not None else float("inf"))


def _shape(shape: list[int] | None) -> str:
    return "—" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


class _Side(QWidget):
    """One side of the comparison: a model_dir and one of its checkpoints."""

    changed = Signal()

    def __init__(self, label: str, color: QColor, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_dir: str | None = None
        self.checkpoints: dict[str, CheckpointInfo] = {}
        self._scan = Task(pool, self, self.set_checkpoints)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        name = QLabel(f"<b style='color:{color.name()}'>{label}</b>")
        self.dir_label = ElidedLabel("–")
        self.dir_label.setMinimumWidth(120)
        self.combo = QComboBox()
        self.combo.setMinimumWidth(150)
        self.combo.currentIndexChanged.connect(self.changed)
        self.other = QToolButton()
        self.other.setIcon(icon("open"))
        self.other.setToolTip(f"Take {label} from another model_dir")
        self.other.clicked.connect(self._choose_dir)
        for widget in (name, self.dir_label, self.combo, self.other):
            layout.addWidget(widget, 1 if widget is self.dir_label else 0)

    def show_dir(self, path: str | None) -> None:
        """The model_dir this side reads: its path, shortened in the middle when it does not fit."""
        self.model_dir = path
        self.dir_label.set_full_text(short_path(path) if path else "–")
        self.dir_label.setToolTip(path or "")

    def set_model_dir(self, path: str | None) -> None:
        self.show_dir(path)
        self.set_checkpoints([])
        if path:
            self._scan.start(scan_job, path)

    @Slot(object)
    def set_checkpoints(self, checkpoints: list[CheckpointInfo]) -> None:
        current = self.prefix()
        self.checkpoints = {c.prefix: c for c in checkpoints}
        self.combo.blockSignals(True)
        self.combo.clear()
        for checkpoint in reversed(checkpoints):
            text = f"step {checkpoint.step:,}" if checkpoint.step is not None else Path(checkpoint.prefix).name
            self.combo.addItem(text if checkpoint.usable else f"{text} ({checkpoint.status})", checkpoint.prefix)
        index = self.combo.findData(current) if current else -1
        self.combo.setCurrentIndex(index if index >= 0 else (0 if checkpoints else -1))
        self.combo.blockSignals(False)
        if self.prefix() != current:
            self.changed.emit()

    def prefix(self) -> str | None:
        return self.combo.currentData()

    def select(self, prefix: str) -> bool:
        index = self.combo.findData(prefix)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        return index >= 0

    def select_index(self, index: int) -> None:
        if 0 <= index < self.combo.count():
            self.combo.setCurrentIndex(index)

    def checkpoint(self) -> CheckpointInfo | None:
        return self.checkpoints.get(self.prefix() or "")

    @Slot()
    def _choose_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model_dir", self.model_dir or "")
        if path:
            self.set_model_dir(path)


class ComparePanel(QWidget):
    status = Signal(str)
    failed = Signal(str, str)
    compared = Signal(object)  # the Comparison shown

    def __init__(self, pool: QThreadPool, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.model_dir: str | None = None
        self._stale = False  # the workspace's checkpoints changed while this panel was hidden
        self.dataset: Dataset | None = None
        self.result: Comparison | None = None
        self.histogram_of: str | None = None
        self._task = Task(pool, self, self._show, self._on_failed)
        self._histogram_task = Task(
            pool, self, self._show_histogram, lambda message, _detail: self.histogram_title.setText(message)
        )

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.side_a = _Side("A", A_COLOR, pool)
        self.side_b = _Side("B", B_COLOR, pool)
        self.compare_button = QPushButton(icon("compare"), "Compare")
        self.compare_button.clicked.connect(self.compare)
        top.addWidget(self.side_a, 1)
        top.addSpacing(12)
        top.addWidget(self.side_b, 1)
        top.addWidget(self.compare_button)
        layout.addLayout(top)
        self.summary = QLabel("Choose two checkpoints and press Compare")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        metrics_box = QGroupBox("Metrics (test split)")
        metrics_layout = QVBoxLayout(metrics_box)
        self.metrics = QTableWidget(0, 4)  # the row names in a column of their own: fit_width then sees them
        self.metrics.setHorizontalHeaderLabels(["", "A", "B", "B − A"])
        self.metrics.verticalHeader().hide()
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.metrics.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.metrics.setWordWrap(False)
        metrics_layout.addWidget(self.metrics)
        left_layout.addWidget(metrics_box, 1)
        self.warnings_box = QGroupBox("Shape warnings")
        warnings_layout = QVBoxLayout(self.warnings_box)
        self.warnings = CompatTable("A", "B")
        warnings_layout.addWidget(self.warnings)
        self.warnings_box.hide()
        left_layout.addWidget(self.warnings_box, 1)

        variables_box = QGroupBox("Variables")  # a long title would set the box's minimum width
        variables_box.setToolTip("Click a row for its histogram; click a header to sort")
        variables_layout = QVBoxLayout(variables_box)
        self.variables = QTableWidget(0, len(VARIABLE_COLUMNS))
        self.variables.setHorizontalHeaderLabels(list(VARIABLE_COLUMNS))
        self.variables.verticalHeader().hide()
        self.variables.verticalHeader().setDefaultSectionSize(22)
        self.variables.setWordWrap(False)
        self.variables.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the diff's order first
        self.variables.setSortingEnabled(True)
        self.variables.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.variables.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.variables.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.variables.itemSelectionChanged.connect(self._variable_selected)
        variables_layout.addWidget(self.variables)
        top_split = QSplitter(Qt.Orientation.Horizontal)
        top_split.addWidget(left)
        top_split.addWidget(variables_box)
        top_split.setSizes([360, 900])

        histogram = QGroupBox("Weight histogram")
        histogram_layout = QVBoxLayout(histogram)
        self.histogram_title = QLabel(HISTOGRAM_HINT)
        self.histogram = pg.PlotWidget(background="w")
        self.histogram.setLabel("bottom", "value")
        self.histogram.setLabel("left", "count")
        histogram_layout.addWidget(self.histogram_title)
        histogram_layout.addWidget(self.histogram, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top_split)
        splitter.addWidget(histogram)
        splitter.setSizes([420, 320])
        layout.addWidget(splitter, 1)
        self.side_a.changed.connect(self._sides_changed)
        self.side_b.changed.connect(self._sides_changed)
        self._sides_changed()
        workspace.model_dir_changed.connect(self._model_dir_changed)
        workspace.snapshot_changed.connect(self._snapshot_changed)

    # Following the workspace --------------------------------------------------------------------
    def _model_dir_changed(self, path: str | None) -> None:
        self.model_dir = path
        for side in (self.side_a, self.side_b):
            side.show_dir(path)
            side.set_checkpoints([])
        self._clear()

    def _snapshot_changed(self, _snapshot: Snapshot) -> None:
        """Rebuild the step lists only while shown (see RestorePanel._snapshot_changed)."""
        if self.isVisible():
            self.set_checkpoints(self.workspace.checkpoints())
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.set_checkpoints(self.workspace.checkpoints())

    @Slot(object)
    def set_dataset(self, dataset: Dataset | None) -> None:
        self.dataset = dataset

    def set_checkpoints(self, checkpoints: list[CheckpointInfo]) -> None:
        """The open model_dir's checkpoints; sides showing another model_dir keep theirs."""
        self._stale = False
        fresh = [
            side for side in (self.side_a, self.side_b) if side.model_dir == self.model_dir and not side.checkpoints
        ]
        for side in (self.side_a, self.side_b):
            if side.model_dir == self.model_dir:
                side.set_checkpoints(checkpoints)
        if self.side_a in fresh and len(checkpoints) > 1:
            self.side_a.select_index(1)  # A: the one before the newest; B: the newest

    def set_b(self, prefix: str) -> None:
        """Compare ``prefix`` (as B) with the checkpoint before it (as A)."""
        if self.side_b.select(prefix):
            index = self.side_b.combo.currentIndex()
            if self.side_a.model_dir == self.side_b.model_dir:
                self.side_a.select_index(index + 1 if index + 1 < self.side_a.combo.count() else index - 1)

    @Slot()
    def _sides_changed(self) -> None:
        a, b = self.side_a.checkpoint(), self.side_b.checkpoint()
        self.compare_button.setEnabled(a is not None and b is not None)

    # Comparing -----------------------------------------------------------------------------------
    @Slot()
    def compare(self) -> None:
        a, b = self.side_a.checkpoint(), self.side_b.checkpoint()
        if a is None or b is None:
            return
        self.summary.setText(f"Comparing {Path(a.prefix).name} with {Path(b.prefix).name}…")
        self._task.start(compare_checkpoints, a, b, self.dataset)

    def _clear(self) -> None:
        self.result = None
        self.metrics.setRowCount(0)
        self.variables.setRowCount(0)
        self.histogram.clear()
        self.histogram_of = None
        self.histogram_title.setText(HISTOGRAM_HINT)
        self.warnings_box.hide()
        self.summary.setText("Choose two checkpoints and press Compare")

    @Slot(str, str)
    def _on_failed(self, message: str, detail: str) -> None:
        self.summary.setText(f"<span style='color:#b3261e'>Cannot compare: {message}</span>")
        self.failed.emit(f"Cannot compare: {message}", detail)

    @Slot(object)
    def _show(self, result: Comparison) -> None:
        self.result = result
        shapes, report = result.shapes, result.diff
        warning = "" if shapes.compatible else f"<br><span style='color:#b3261e'>⚠ {shapes.summary}</span>"
        read = f"{human_size(report.bytes_read)} read in {report.seconds:.2f} s"
        self.summary.setText(f"{report.summary} ({read}){warning}")
        self._fill_metrics(result)
        self._fill_variables(report)
        if shapes.compatible:
            self.warnings_box.hide()
        else:
            self.warnings.set_report(shapes)
            self.warnings_box.show()
        self.status.emit(f"Compared {Path(result.a.prefix).name} and {Path(result.b.prefix).name}")
        self.compared.emit(result)
        weights = [r for r in range(self.variables.rowCount()) if self.variables.item(r, 1).text() not in ("[]", "—")]
        if weights or self.variables.rowCount():
            self.variables.selectRow(weights[0] if weights else 0)

    def _fill_metrics(self, result: Comparison) -> None:
        rows: list[tuple[str, str, str, str]] = []
        a, b = result.a, result.b
        self.metrics.horizontalHeaderItem(1).setToolTip(a.prefix)
        self.metrics.horizontalHeaderItem(2).setToolTip(b.prefix)
        if a.step is None or b.step is None:
            rows.append(("Checkpoint", Path(a.prefix).name, Path(b.prefix).name, ""))
        else:
            rows.append(("Step", f"{a.step:,}", f"{b.step:,}", f"{b.step - a.step:+,}"))
        for label, attribute in (("Accuracy", "accuracy"), ("Loss", "loss")):
            values = [getattr(e, attribute) if not isinstance(e, str) else None for e in result.evals]
            texts = [f"{v:.4f}" if v is not None else "—" for v in values]
            delta = f"{values[1] - values[0]:+.4f}" if None not in values else ""
            rows.append((label, texts[0], texts[1], delta))
        rows.append(("Size", human_size(a.total_bytes), human_size(b.total_bytes), ""))
        rows.append(("Written", format_time(a.mtime), format_time(b.mtime), ""))
        problems = [f"{side}: {e}" for side, e in zip("AB", result.evals, strict=True) if isinstance(e, str)]
        self.metrics.clearSpans()
        self.metrics.setRowCount(len(rows) + len(problems))
        for row, texts in enumerate(rows):
            for column, text in enumerate(texts):
                self.metrics.setItem(row, column, QTableWidgetItem(str(text)))
        for offset, problem in enumerate(problems):
            row = len(rows) + offset
            self.metrics.setItem(row, 0, QTableWidgetItem("Note"))
            self.metrics.setSpan(row, 1, 1, 3)
            self.metrics.setItem(row, 1, QTableWidgetItem(problem))
        fit_width(self.metrics)

    def _fill_variables(self, report: DiffReport) -> None:
        table = self.variables
        table.setSortingEnabled(False)
        table.setRowCount(len(report.variables))
        for row, v in enumerate(report.variables):
            items = [
                QTableWidgetItem(v.name),
                QTableWidgetItem(_shape(v.shape_a)),
                QTableWidgetItem(_shape(v.shape_b)),
                _NumberItem(v.norm_a),
                _NumberItem(v.norm_b),
                _NumberItem(v.delta_l2),
                _NumberItem(v.max_abs_delta),
                _NumberItem(v.relative_change),
                _NumberItem(v.cosine),
                QTableWidgetItem(v.note),
            ]
            differs = not (v.in_a and v.in_b and v.shape_a == v.shape_b)
            for column, item in enumerate(items):
                if differs:
                    item.setBackground(QBrush(MISMATCH_BACKGROUND))
                table.setItem(row, column, item)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()

    # Histogram -----------------------------------------------------------------------------------
    @Slot()
    def _variable_selected(self) -> None:
        rows = self.variables.selectionModel().selectedRows()
        if not rows or self.result is None:
            return
        row = rows[0].row()
        name = self.variables.item(row, 0).text()
        diff_row = next((v for v in self.result.diff.variables if v.name == name), None)
        if diff_row is None or not (diff_row.in_a and diff_row.in_b):
            self.histogram.clear()
            self.histogram_title.setText(f"{name}: only in {'A' if diff_row and diff_row.in_a else 'B'}")
            return
        self.histogram_title.setText(f"{name}: reading…")
        self._histogram_task.start(histograms, self.result.a.prefix, self.result.b.prefix, name)

    @Slot(object)
    def _show_histogram(self, result: tuple[str, np.ndarray, np.ndarray, np.ndarray]) -> None:
        name, edges, counts_a, counts_b = result
        self.histogram_of = name
        self.histogram.clear()
        for label, counts, color in (("A", counts_a, A_COLOR), ("B", counts_b, B_COLOR)):
            fill = QColor(color)
            fill.setAlpha(70)
            self.histogram.plot(
                edges, counts, stepMode="center", fillLevel=0, brush=fill, pen=pg.mkPen(color, width=1.5), name=label
            )
        keys = [("A", A_COLOR.name(), False), ("B", B_COLOR.name(), False)]
        self.histogram_title.setText(title_with_legend(f"{name}: {int(counts_a.sum()):,} values per checkpoint", keys))

    def histogram_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(edges, counts) of each plotted histogram, for tests."""
        return [(item.xData, item.yData) for item in self.histogram.getPlotItem().listDataItems()]
