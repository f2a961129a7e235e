"""Restore one step: does it fit the config, how good is it, what does it predict; continue from it or adopt it.

Every read runs on the pool (one job per kind, newer requests make older
results stale). Continuing from a step copies only that checkpoint and a fresh
``checkpoint`` state file into a NEW model_dir, so the original's later
checkpoints are never touched (a trainer resuming in place would sweep them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui import engine
from ckptgui.gui.icons import icon
from ckptgui.gui.widgets.compat_table import CompatTable
from ckptgui.gui.widgets.export_dialog import ExportDialog
from ckptgui.gui.widgets.new_dir_dialog import NewDirDialog, ask_new_dir, default_new_dir
from ckptgui.gui.workers import Task
from ckptgui.modeldir.compat import CompatReport, check
from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.data import IRIS_FEATURES, Dataset
from ckptgui.modeldir.fork import copy_checkpoint
from ckptgui.modeldir.scan import CheckpointInfo, locate
from ckptgui.modeldir.snapshot import Snapshot
from ckptgui.modeldir.variables import list_variables
from ckptgui.storage import name_of, parent_of
from ckptgui.workspace.model import Workspace

if TYPE_CHECKING:
    from ckptgui.gui.engine import EvalResult, Prediction

# The guide's three example flowers (SepalLength, SepalWidth, PetalLength, PetalWidth).
GUIDE_FLOWERS = [[5.1, 3.3, 1.7, 0.5], [5.9, 3.0, 4.2, 1.5], [6.9, 3.1, 5.4, 2.1]]


def check_job(
    network: NetworkConfig, n_features: int, n_classes: int, prefix: str
) -> tuple[CompatReport, dict[str, list[int]]]:
    report = check(network, n_features, n_classes, prefix)
    shapes = {v.name: v.shape for v in list_variables(locate(prefix))}
    return report, shapes


class RestorePanel(QWidget):
    """Works on the checkpoints of the current model_dir; the main window starts the training it asks for."""

    adoptRequested = Signal(object)  # the checkpoint's InferredNetwork
    continueRequested = Signal(str, str)  # new model_dir, copied prefix
    status = Signal(str)
    failed = Signal(str, str)

    def __init__(self, pool: QThreadPool, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._pool = pool
        self.export_dialog: ExportDialog | None = None
        self.new_dir_dialog: NewDirDialog | None = None
        self._stale = False  # the workspace's checkpoints changed while this panel was hidden
        self.dataset: Dataset | None = None
        self.report: CompatReport | None = None
        self.last_eval: EvalResult | None = None
        self.last_predictions: list[Prediction] | None = None
        self.network_source: Callable[[], tuple[NetworkConfig | None, str]] = lambda: (NetworkConfig(), "")
        # Reads data the form deferred, then calls back; False when there is nothing to read (see ConfigForm).
        self.load_data: Callable[[Callable[[], None]], bool] = lambda _then: False
        self._checkpoints: dict[str, CheckpointInfo] = {}
        self._check_task = Task(pool, self, self._on_checked, self._on_check_failed)
        self._eval_task = Task(pool, self, self._on_evaluated, self._on_eval_failed)
        self._predict_task = Task(pool, self, self._on_predicted, self._on_predict_failed)
        self._copy_task = Task(pool, self, self._on_copied, self.failed)
        self._build()
        self._update_buttons()
        workspace.model_dir_changed.connect(self._model_dir_changed)
        workspace.snapshot_changed.connect(self._snapshot_changed)
        workspace.selection_changed.connect(self._selection_changed)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Checkpoint"))
        self.step_combo = QComboBox()
        self.step_combo.setMinimumWidth(260)
        self.step_combo.currentIndexChanged.connect(self._step_changed)
        top.addWidget(self.step_combo, 1)
        self.check_button = QPushButton(icon("reload"), "Check against config")
        self.check_button.clicked.connect(self.check_compatibility)
        top.addWidget(self.check_button)
        self.continue_button = QPushButton(icon("continue"), "Continue training in a new model_dir…")
        self.continue_button.setToolTip(
            "Copy this checkpoint (and a fresh state file) into a new model_dir and train on from it; "
            "the original model_dir is left as it is"
        )
        self.continue_button.clicked.connect(lambda: self.continue_training())
        self.adopt_button = QPushButton(icon("adopt"), "Use its network")
        self.adopt_button.setToolTip("Set the form's hidden units (and classes, optimizer) to the checkpoint's")
        self.adopt_button.clicked.connect(self._adopt)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Export this checkpoint for serving: a SavedModel with Estimator's signatures, .keras or .tflite"
        )
        self.export_button.clicked.connect(self.open_export_dialog)
        layout.addLayout(top)
        actions = QHBoxLayout()  # a row of its own: the panel fits beside the configuration at 1280 wide
        actions.addWidget(self.continue_button)
        actions.addWidget(self.adopt_button)
        actions.addWidget(self.export_button)
        actions.addStretch(1)
        layout.addLayout(actions)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        compat_box = QGroupBox("Compatibility with the current network config")
        compat_layout = QVBoxLayout(compat_box)
        self.compat = CompatTable()
        compat_layout.addWidget(self.compat)
        splitter.addWidget(compat_box)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        eval_box = QGroupBox("Evaluate on the test split")
        eval_form = QFormLayout(eval_box)
        self.eval_button = QPushButton(icon("evaluate"), "Evaluate")
        self.eval_button.clicked.connect(self.evaluate)
        self.eval_accuracy = QLabel("–")
        self.eval_loss = QLabel("–")
        self.eval_info = QLabel("")
        self.eval_info.setWordWrap(True)
        eval_form.addRow(self.eval_button)
        eval_form.addRow("Accuracy", self.eval_accuracy)
        eval_form.addRow("Loss", self.eval_loss)
        eval_form.addRow(self.eval_info)
        right_layout.addWidget(eval_box)

        predict_box = QGroupBox("Predict")
        predict_layout = QVBoxLayout(predict_box)
        self.inputs = QTableWidget(0, len(IRIS_FEATURES))
        self.inputs.verticalHeader().setDefaultSectionSize(22)
        self.inputs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        predict_layout.addWidget(self.inputs)
        buttons = QHBoxLayout()
        self.predict_button = QPushButton(icon("predict"), "Predict")
        self.predict_button.clicked.connect(self.predict)
        add_row = QPushButton("Add row")
        add_row.clicked.connect(lambda: self.inputs.insertRow(self.inputs.rowCount()))
        remove_row = QPushButton("Remove row")
        remove_row.clicked.connect(lambda: self.inputs.removeRow(max(self.inputs.currentRow(), 0)))
        preset = QPushButton("Guide's flowers")
        preset.setToolTip("The three example flowers of the TensorFlow guide")
        preset.clicked.connect(self.set_guide_flowers)
        for button in (self.predict_button, add_row, remove_row, preset):
            buttons.addWidget(button)
        buttons.addStretch(1)
        predict_layout.addLayout(buttons)
        self.results = QTableWidget(0, 2)
        self.results.setHorizontalHeaderLabels(["Predicted", "Probabilities"])
        # One column per class, each as wide as its numbers: nothing is clipped; the table scrolls if need be.
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results.horizontalHeader().setStretchLastSection(True)
        self.results.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results.verticalHeader().setDefaultSectionSize(22)
        predict_layout.addWidget(self.results)
        right_layout.addWidget(predict_box, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        self.set_guide_flowers()

    # Following the workspace --------------------------------------------------------------------
    def _model_dir_changed(self, path: str | None) -> None:
        self._checkpoints = {}
        self.step_combo.clear()
        self.report = None
        self.compat.clear("Select a checkpoint" if path else "No model_dir open")
        self._clear_results()

    def _snapshot_changed(self, _snapshot: Snapshot) -> None:
        """Rebuild the step list only while shown: a trainer may save 100 times a second, and a hidden panel
        would spend GUI-thread time (which the trainer waits for) on every save; it catches up when shown."""
        if self.isVisible():
            self.set_checkpoints(self.workspace.checkpoints())
        else:
            self._stale = True

    def _selection_changed(self, prefix: str | None) -> None:
        if prefix is not None:
            self.select_prefix(prefix)

    @Slot(object)
    def set_dataset(self, dataset: Dataset | None) -> None:
        self.dataset = dataset
        if dataset is not None and dataset.n_features != self.inputs.columnCount():
            self.inputs.setColumnCount(dataset.n_features)
        names = dataset.feature_names if dataset is not None else IRIS_FEATURES
        if len(names) == self.inputs.columnCount():
            self.inputs.setHorizontalHeaderLabels(list(names))

    def set_checkpoints(self, checkpoints: list[CheckpointInfo]) -> None:
        """The model_dir's checkpoints, oldest first; keeps the selection, selects the newest at first."""
        self._stale = False
        current = self.current_prefix()
        self._checkpoints = {c.prefix: c for c in checkpoints}
        self.step_combo.blockSignals(True)
        self.step_combo.clear()
        for checkpoint in reversed(checkpoints):
            label = f"step {checkpoint.step:,}" if checkpoint.step is not None else Path(checkpoint.prefix).name
            if not checkpoint.usable:
                label += f" ({checkpoint.status})"
            self.step_combo.addItem(label, checkpoint.prefix)
        index = self.step_combo.findData(current) if current else -1
        self.step_combo.setCurrentIndex(index if index >= 0 else (0 if checkpoints else -1))
        self.step_combo.blockSignals(False)
        if self.current_prefix() != current:
            self._step_changed()
        self._update_buttons()

    def select_prefix(self, prefix: str) -> None:
        index = self.step_combo.findData(prefix)
        if index >= 0:
            self.step_combo.setCurrentIndex(index)

    def current_prefix(self) -> str | None:
        return self.step_combo.currentData()

    def current_checkpoint(self) -> CheckpointInfo | None:
        return self._checkpoints.get(self.current_prefix() or "")

    # Compatibility -------------------------------------------------------------------------------
    @Slot()
    def _step_changed(self) -> None:
        self.report = None
        self.compat.clear("Press “Check against config” or Ctrl+R")
        self._clear_results()
        self._update_buttons()
        if self.isVisible():
            self.check_compatibility()

    @Slot()
    def check_compatibility(self) -> None:
        prefix = self.current_prefix()
        if prefix is None:
            return
        network, why = self.network_source()
        if network is not None and self.dataset is None and self.load_data(self.check_compatibility):
            self.compat.clear("Reading the data…")
            return
        if network is None or self.dataset is None:
            self.compat.clear(f"Cannot check: {why or 'the data is not loaded'}")
            return
        n_classes = network.n_classes or self.dataset.n_classes
        self.compat.clear("Checking…")
        self._check_task.start(check_job, network, self.dataset.n_features, n_classes, prefix)

    @Slot(object)
    def _on_checked(self, result: tuple[CompatReport, dict[str, list[int]]]) -> None:
        self.report, shapes = result
        self.compat.set_report(self.report, shapes)
        self._update_buttons()

    @Slot(str, str)
    def _on_check_failed(self, message: str, _detail: str) -> None:
        self.report = None
        self.compat.clear(f"<span style='color:#b3261e'>Cannot read this checkpoint: {message}</span>")
        self._update_buttons()

    @Slot()
    def _adopt(self) -> None:
        if self.report is not None and self.report.checkpoint_network is not None:
            self.adoptRequested.emit(self.report.checkpoint_network)
            self.check_compatibility()

    # Evaluate and predict ------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self.eval_accuracy.setText("–")
        self.eval_loss.setText("–")
        self.eval_info.setText("")
        self.results.setRowCount(0)
        self.last_eval = None
        self.last_predictions = None

    @Slot()
    def evaluate(self) -> None:
        prefix = self.current_prefix()
        if prefix is None:
            return
        self.eval_info.setText("Evaluating…")
        self._eval_task.start(engine.evaluate_on_test, prefix, self.dataset)

    @Slot(object)
    def _on_evaluated(self, result: EvalResult) -> None:
        self.last_eval = result
        self.eval_accuracy.setText(f"{result.accuracy:.4f}")
        self.eval_loss.setText(f"{result.loss:.4f}")
        step = f"step {result.step:,}" if result.step is not None else Path(result.prefix).name
        notes = "".join(f"<br>note: {n}" for n in result.notes)
        self.eval_info.setText(f"{step}, {result.examples} test examples of {Path(result.data).name}{notes}")
        self.status.emit(f"Evaluated {step}: accuracy {result.accuracy:.4f}, loss {result.loss:.4f}")

    @Slot(str, str)
    def _on_eval_failed(self, message: str, _detail: str) -> None:
        self.eval_accuracy.setText("–")
        self.eval_loss.setText("–")
        self.eval_info.setText(f"<span style='color:#b3261e'>Cannot evaluate: {message}</span>")

    @Slot()
    def set_guide_flowers(self) -> None:
        self.inputs.setRowCount(len(GUIDE_FLOWERS))
        if self.inputs.columnCount() != len(IRIS_FEATURES):
            return
        for row, values in enumerate(GUIDE_FLOWERS):
            for column, value in enumerate(values):
                self.inputs.setItem(row, column, QTableWidgetItem(str(value)))

    def input_rows(self) -> list[list[float]]:
        """The typed feature rows; raises ValueError naming the first cell that is not a number."""
        rows = []
        for row in range(self.inputs.rowCount()):
            values = []
            for column in range(self.inputs.columnCount()):
                item = self.inputs.item(row, column)
                text = item.text().strip() if item is not None else ""
                header = self.inputs.horizontalHeaderItem(column)
                name = header.text() if header is not None else f"column {column + 1}"
                try:
                    values.append(float(text))
                except ValueError:
                    raise ValueError(f"row {row + 1}, {name}: {text!r} is not a number") from None
            rows.append(values)
        if not rows:
            raise ValueError("add at least one row of features")
        return rows

    @Slot()
    def predict(self) -> None:
        prefix = self.current_prefix()
        if prefix is None:
            return
        try:
            rows = self.input_rows()
        except ValueError as exc:
            self._show_predict_problem(str(exc))
            return
        self.results.clearSpans()
        self.results.setRowCount(0)
        self._predict_task.start(engine.predict, prefix, rows)

    @Slot(object)
    def _on_predicted(self, predictions: list[Prediction]) -> None:
        self.last_predictions = predictions
        self.results.clearSpans()
        self.results.setRowCount(len(predictions))
        names = self.dataset.class_names if self.dataset is not None else []
        n_classes = max((len(p.probabilities) for p in predictions), default=0)
        self.results.setColumnCount(1 + n_classes)
        headers = [names[i] if i < len(names) else f"class {i}" for i in range(n_classes)]
        self.results.setHorizontalHeaderLabels(["Predicted", *(f"P({name})" for name in headers)])
        for row, prediction in enumerate(predictions):
            best = max(prediction.probabilities)
            self.results.setItem(row, 0, QTableWidgetItem(f"{prediction.class_name} ({best:.1%})"))
            for index, p in enumerate(prediction.probabilities):
                item = QTableWidgetItem(f"{p:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.results.setItem(row, 1 + index, item)
        self.status.emit(f"Predicted {len(predictions)} rows")

    @Slot(str, str)
    def _on_predict_failed(self, message: str, _detail: str) -> None:
        self._show_predict_problem(message)

    def _show_predict_problem(self, message: str) -> None:
        self.results.setRowCount(1)
        item = QTableWidgetItem(f"Cannot predict: {message}")
        item.setForeground(QColor(179, 38, 30))
        self.results.setItem(0, 0, item)
        self.results.setSpan(0, 0, 1, self.results.columnCount())
        self.last_predictions = None

    # Export ------------------------------------------------------------------------------------------
    @Slot()
    def open_export_dialog(self) -> ExportDialog | None:
        """The export dialog for the selected checkpoint (one at a time; it is not modal)."""
        checkpoint = self.current_checkpoint()
        if checkpoint is None:
            return None
        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog.deleteLater()
        label = f"step {checkpoint.step:,}" if checkpoint.step is not None else Path(checkpoint.prefix).name
        self.export_dialog = ExportDialog(self._pool, checkpoint.prefix, label, self)
        self.export_dialog.exported.connect(lambda result: self.status.emit(f"Exported {label} to {result.path}"))
        self.export_dialog.show()
        return self.export_dialog

    # Continue ------------------------------------------------------------------------------------
    @Slot()
    def continue_training(self, new_dir: str | None = None) -> None:
        """Copy the selected checkpoint into ``new_dir`` and continue there; without one, ask where first."""
        checkpoint = self.current_checkpoint()
        if checkpoint is None:
            return
        if new_dir is None:
            source = parent_of(checkpoint.prefix)
            self.new_dir_dialog = ask_new_dir(
                self,
                "Continue training in a new model_dir",
                f"Copy {name_of(checkpoint.prefix)} of {source} into a new model_dir and continue training there "
                "(the original is left untouched). Where should it go?",
                default_new_dir(source, f"from-{checkpoint.step}"),
                self.continue_training,
            )
            return
        self.status.emit(f"Copying {Path(checkpoint.prefix).name} into {new_dir}…")
        self._copy_task.start(lambda: (new_dir, copy_checkpoint(checkpoint, new_dir)))

    @Slot(object)
    def _on_copied(self, result: tuple[str, str]) -> None:
        new_dir, prefix = result
        self.continueRequested.emit(new_dir, prefix)

    def _update_buttons(self) -> None:
        checkpoint = self.current_checkpoint()
        usable = checkpoint is not None and checkpoint.usable
        buttons = (self.check_button, self.eval_button, self.predict_button, self.continue_button, self.export_button)
        for button in buttons:
            button.setEnabled(usable)
        network = self.report.checkpoint_network if self.report is not None else None
        self.adopt_button.setEnabled(network is not None and not network.single_logit)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.set_checkpoints(self.workspace.checkpoints())
        if self.report is None and self.current_prefix() is not None:
            self.check_compatibility()
