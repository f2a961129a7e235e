"""Many runs side by side: the runs table, the selected runs' curves overlaid, what changed between two runs.

The view observes a :class:`~ckptgui.workspace.runs.RunsFolder`, polled on a pool thread; every value it shows
comes from there (the same rows ``ckptgui runs`` prints). Each run keeps one colour everywhere: its swatch in the
table, its curves, its legend entry and its best-checkpoint marker.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ckptgui.formats.events import export_csv
from ckptgui.gui.widgets.plots import (
    POLL_MS_IDLE,
    POLL_MS_REMOTE,
    POLL_MS_TRAINING,
)
from ckptgui.gui.widgets.runs_plots import RunsPlots
from ckptgui.gui.widgets.runs_table import RunsSortProxy, RunsTableModel, run_color
from ckptgui.gui.workers import Task
from ckptgui.modeldir.compat import compare
from ckptgui.modeldir.runs import RunRow, spec_diff, write_table_csv
from ckptgui.modeldir.tensors import diff
from ckptgui.storage import scheme_of
from ckptgui.workspace.runs import RunsFolder

SIZE_ROWS = 40  # rows measured for the columns' widths


class RunsView(QWidget):
    """A folder of runs: table, overlaid curves of the selected rows, spec diff of two, exports."""

    updated = Signal()  # after a poll's rows were shown
    failed = Signal(str, str)
    status = Signal(str)  # what an export wrote, what cannot be read

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: RunsFolder | None = None
        self.colors: dict[str, QColor] = {}
        self._hidden: set[str] = set()
        self._pool = pool
        self._task = Task(pool, self, self._polled, self.failed)
        self._diff_task = Task(pool, self, self._show_checkpoint_diff, self.failed)
        self._timer = QTimer(self, interval=POLL_MS_IDLE)
        self._timer.timeout.connect(self.poll)

        self.model = RunsTableModel(self.colors, self)
        self.proxy = RunsSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        # Widths from the first rows only: measuring every cell of hundreds of runs took most of the first table's
        # display (one Python call per cell).
        self.table.horizontalHeader().setResizeContentsPrecision(SIZE_ROWS)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.horizontalHeader().customContextMenuRequested.connect(lambda _pos: self.columns_menu().exec())
        self._selected: list[str] | None = None  # selected_runs(), until the selection or the order changes
        for signal in (
            self.proxy.layoutChanged,
            self.proxy.modelReset,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
        ):
            signal.connect(self._forget_selected)
        self.table.selectionModel().selectionChanged.connect(self._forget_selected)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.modelReset.connect(self._apply_hidden)

        self.path_label = QLabel("No folder of runs open")
        self.filter = QLineEdit(placeholderText="Filter runs (any column)")
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.columns_button = QPushButton("Columns…")
        self.columns_button.clicked.connect(
            lambda: self.columns_menu().exec(self.columns_button.mapToGlobal(self.columns_button.rect().bottomLeft()))
        )
        self.export_scalars_button = QPushButton("Export scalars…")
        self.export_scalars_button.setToolTip("Every point of the selected runs (all runs when none is selected)")
        self.export_scalars_button.clicked.connect(self._ask_export_scalars)
        self.export_table_button = QPushButton("Export table…")
        self.export_table_button.clicked.connect(self._ask_export_table)
        top = QHBoxLayout()
        for widget in (self.path_label, self.filter, self.columns_button, self.export_scalars_button):
            top.addWidget(widget)
        top.addWidget(self.export_table_button)

        self.diff = QPlainTextEdit(readOnly=True, placeholderText="Select two runs to see what changed between them")
        self.diff.setMaximumHeight(70)
        self.plots = RunsPlots(self.colors, self.selected_runs)
        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.plots, 1)
        plots_layout.addWidget(self.diff)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(plots)
        splitter.setSizes([260, 560])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    # Public API ----------------------------------------------------------------------------------
    def open_folder(self, path: str) -> None:
        """Show the runs below ``path`` and keep looking for new ones."""
        self._task.cancel()
        self.folder = self.plots.folder = RunsFolder(path)
        self.plots.awaited = set()
        self.colors.clear()
        self.model.set_rows([])
        self.plots.redraw([])
        self.path_label.setText(self.folder.parent)
        self._timer.setInterval(POLL_MS_REMOTE if scheme_of(path) else POLL_MS_IDLE)
        self._timer.start()
        self.poll()

    @Slot()
    def poll(self) -> None:
        if self.folder is not None:
            self._task.coalesce(self.folder.poll)

    def selected_runs(self) -> list[str]:
        """The selected runs' names, in the table's order.

        Kept until the selection or the table's order changes: Qt's ``selectedRows`` asks the model's row and
        column counts (Python calls) for every selected row, milliseconds per call with hundreds of runs, and every
        slice of a redraw asks.
        """
        if self._selected is None:
            rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
            self._selected = [self._row_at(r).name for r in rows]
        return list(self._selected)

    @Slot()
    def _forget_selected(self) -> None:
        self._selected = None

    def _row_at(self, proxy_row: int) -> RunRow:
        return self.model.rows[self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()]

    def select_runs(self, names: list[str]) -> None:
        selection = QItemSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self._row_at(row).name in names:
                selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    def visible_columns(self) -> list[str]:
        return [c for i, c in enumerate(self.model.columns) if not self.table.isColumnHidden(i)]

    def set_column_visible(self, column: str, visible: bool) -> None:
        (self._hidden.discard if visible else self._hidden.add)(column)
        self._apply_hidden()

    def export_scalars(self, path: str, runs: list[str] | None = None) -> int:
        """Every point of ``runs`` (default: the selected runs, else all) as run,tag,step,wall_time,value rows."""
        if self.folder is None:
            return 0
        return export_csv(self.folder.scalars(runs or self.selected_runs() or None), path)

    def export_table(self, path: str) -> int:
        """The table as shown (rows passing the filter, in the table's order; visible columns) as CSV."""
        rows = [self._row_at(r) for r in range(self.proxy.rowCount())]
        return write_table_csv(rows, self.visible_columns(), path)

    def columns_menu(self) -> QMenu:
        menu = QMenu(self)
        for column in self.model.columns[1:]:
            action = QAction(column, menu, checkable=True, checked=column not in self._hidden)
            action.toggled.connect(lambda on, c=column: self.set_column_visible(c, on))
            menu.addAction(action)
        return menu

    # Polling -------------------------------------------------------------------------------------
    @Slot(object)
    def _polled(self, changed: set[str]) -> None:
        if self.folder is None:
            return
        problems = self.folder.problems
        shown = f"{self.folder.parent} — {next(iter(problems.values()))}" if problems else self.folder.parent
        if self.path_label.text() != shown:
            self.path_label.setText(shown)
            if problems:
                self.status.emit(next(iter(problems.values())))
        if changed:
            self._show_rows(changed)
        self.plots.polled(changed)  # runs read whole since, or changed, drawn again
        if changed:
            self.updated.emit()

    def _show_rows(self, changed: set[str]) -> None:
        """The table after a poll that changed rows; the selection kept (its curves dropped for runs now gone)."""
        assert self.folder is not None
        rows = self.folder.rows()
        for row in rows:
            if row.name not in self.colors:
                self.colors[row.name] = run_color(len(self.colors))
        remote = scheme_of(self.folder.parent)
        training = any(row.status == "training" for row in rows)
        self._timer.setInterval(POLL_MS_REMOTE if remote else POLL_MS_TRAINING if training else POLL_MS_IDLE)
        selected = self.selected_runs()
        if self.model.set_rows(rows, changed):
            self.select_runs(selected)  # Qt clears a selection on a reset without saying so
            if self.selected_runs() != selected:  # selected runs are gone: their curves go too
                self.plots.show_runs(self.selected_runs())

    def _apply_hidden(self) -> None:
        """After the columns changed: the user's hidden ones hidden, the others as wide as their contents."""
        for index, column in enumerate(self.model.columns):
            self.table.setColumnHidden(index, column in self._hidden)
        self.table.resizeColumnsToContents()

    # Selection ------------------------------------------------------------------------------------
    @Slot()
    def _selection_changed(self) -> None:
        selected = self.selected_runs()
        if self.folder is not None and self.folder.load(selected):
            self.plots.awaited.update(selected)  # drawn when a poll has read them whole
            self.poll()  # their training points, read from the files' ends for the table, read whole now
        self.plots.show_runs(selected)
        self._show_diff(selected)

    # What changed --------------------------------------------------------------------------------
    def _show_diff(self, selected: list[str]) -> None:
        self._diff_task.cancel()
        if len(selected) != 2 or self.folder is None:
            self.diff.setPlainText("")
            return
        a, b = (self.folder.row(run) for run in selected)
        text = f"{a.name} → {b.name}: {spec_diff(a.spec, b.spec)}"
        self.diff.setPlainText(text)
        ckpt_a, ckpt_b = (self.folder.checkpoints(run) for run in selected)
        chosen = [info.restore_checkpoint if info is not None else None for info in (ckpt_a, ckpt_b)]
        if chosen[0] is not None and chosen[1] is not None:
            self._diff_task.start(_checkpoint_diff, chosen[0].prefix, chosen[1].prefix)

    @Slot(object)
    def _show_checkpoint_diff(self, text: str) -> None:
        self.diff.appendPlainText(text)

    # Dialogs -------------------------------------------------------------------------------------
    def _ask_export_scalars(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export scalars", "scalars.csv", "CSV (*.csv)")
        if path:
            self._export(lambda: f"wrote {self.export_scalars(path)} points to {path}")

    def _ask_export_table(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the runs table", "runs.csv", "CSV (*.csv)")
        if path:
            self._export(lambda: f"wrote {self.export_table(path)} runs to {path}")

    def _export(self, write: Any) -> None:
        try:
            self.status.emit(write())
        except OSError as exc:
            self.failed.emit(f"Cannot write the file: {exc.strerror or exc}", "")


def _checkpoint_diff(a_prefix: str, b_prefix: str) -> str:
    """Pool thread: the two runs' latest healthy checkpoints compared; per-variable changes when networks match."""
    shapes = compare(a_prefix, b_prefix)
    if not shapes.compatible:
        return f"checkpoints: {shapes.summary}"
    report = diff(a_prefix, b_prefix)  # TensorFlow-free: no need to wait for the engine
    layers = ", ".join(f"{layer.name} {layer.delta_l2:.3g}" for layer in report.layers[:4] if layer.delta_l2 > 0)
    return f"checkpoints: {report.summary}" + (f" (most moved: {layers})" if layers else "")


class RunsWindow(QMainWindow):
    """A window of its own for a folder of runs (File → Open folder of runs…)."""

    def __init__(self, pool: QThreadPool, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = RunsView(pool, self)
        self.setCentralWidget(self.view)
        self.setWindowTitle(f"Runs — {path}")
        self.resize(1200, 850)
        self.view.status.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.view.open_folder(path)
