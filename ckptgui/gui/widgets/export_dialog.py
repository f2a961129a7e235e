"""Export one checkpoint for serving: pick a format and a folder, watch it being written and verified, open it.

The export runs on the pool (``ckptgui export`` does the same work: write, reload in a fresh process, compare
with predict, rename into place). It always writes a new ``<version>`` under the folder, so nothing is ever
replaced from here; a failed export leaves nothing and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui import engine
from ckptgui.gui.workers import Task

if TYPE_CHECKING:
    from ckptgui.gui.engine import ExportResult

FORMAT_LABELS = {  # the engine's format names, as offered here
    "savedmodel": "SavedModel — TF Serving, tf.saved_model.load",
    "keras": "Keras (.keras)",
    "tflite": "TFLite / LiteRT (.tflite)",
}


class _Stages(QObject):
    """Lives on the GUI thread: the export reports its stages from the pool, they arrive queued."""

    stage = Signal(str)


class ExportDialog(QDialog):
    """Export the checkpoint ``prefix`` (``label`` names it for the user)."""

    exported = Signal(object)  # the ExportResult

    def __init__(self, pool: QThreadPool, prefix: str, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export {label}")
        self.prefix = prefix
        self.result: ExportResult | None = None
        self._stages = _Stages(self)
        self._stages.stage.connect(self._on_stage)
        self._task = Task(pool, self, self._on_exported, self._on_failed)

        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Checkpoint", QLabel(label))
        self.format_combo = QComboBox()
        for fmt, text in FORMAT_LABELS.items():
            self.format_combo.addItem(text, fmt)
        form.addRow("Format", self.format_combo)
        folder_row = QHBoxLayout()
        self.folder_edit = QLineEdit(engine.default_export_folder(prefix))
        self.folder_edit.setToolTip("The export goes in a new folder or file named by the current Unix time")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form.addRow("Folder", folder_row)
        layout.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the stages have no measurable length
        self.progress.hide()
        layout.addWidget(self.progress)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.show_button = buttons.addButton("Show in file manager", QDialogButtonBox.ButtonRole.ActionRole)
        self.show_button.hide()
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.show_button.clicked.connect(self.show_in_file_manager)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    @Slot()
    def start_export(self) -> None:
        folder = self.folder_edit.text().strip()
        if not folder:
            self._show_problem("choose a folder")
            return
        self.result = None
        self._set_running(True)
        self.show_button.hide()
        self.message.setText("Starting…")
        fmt = self.format_combo.currentData()
        self._task.start(engine.export_checkpoint, self.prefix, fmt, folder, self._stages.stage.emit)

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        for widget in (self.export_button, self.format_combo, self.folder_edit):
            widget.setEnabled(not running)

    @Slot(str)
    def _on_stage(self, stage: str) -> None:
        if self._task.busy:
            self.message.setText(stage[:1].upper() + stage[1:] + "…")

    @Slot(object)
    def _on_exported(self, result: ExportResult) -> None:
        self.result = result
        self._set_running(False)
        self.message.setText(
            f"Exported to {result.path}<br>verified in a fresh process on {result.checked_rows} rows "
            f"({result.checked_on}): largest probability difference {result.max_abs_difference:.2g}"
        )
        self.show_button.show()
        self.exported.emit(result)

    @Slot(str, str)
    def _on_failed(self, message: str, _detail: str) -> None:
        self._set_running(False)
        self._show_problem(f"Not exported: {message}")

    def _show_problem(self, text: str) -> None:
        self.message.setText(f"<span style='color:#b3261e'>{text}</span>")

    @Slot()
    def show_in_file_manager(self) -> None:
        """Open the SavedModel folder, or the folder holding the .keras / .tflite file."""
        if self.result is None:
            return
        path = Path(self.result.path)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path if path.is_dir() else path.parent)))
