"""The right-hand side of the window: plots and the live model_dir (Monitor), Restore and Compare, as tabs.

Builds the panels, wires them to the workspace and to each other (a row of the
directory view opens Restore or Compare, pins a step), and exports the plots.
Each panel observes the workspace itself; nothing here copies checkpoint lists
between them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QSplitter, QTabWidget, QWidget

from ckptgui.gui.icons import icon
from ckptgui.gui.widgets.compare_panel import ComparePanel
from ckptgui.gui.widgets.config_form import ConfigForm
from ckptgui.gui.widgets.directory_view import DirectoryView
from ckptgui.gui.widgets.plots import PlotPanel, default_export_name
from ckptgui.gui.widgets.restore_panel import RestorePanel
from ckptgui.modeldir.config import ConfigError, NetworkConfig
from ckptgui.modeldir.records import RunLogError, set_pinned
from ckptgui.modeldir.snapshot import Snapshot
from ckptgui.modeldir.variables import InferredNetwork
from ckptgui.workspace.model import Workspace

MONITOR, RESTORE, COMPARE = range(3)


class Panels(QObject):
    """Owns the tabs and their panels; ``status`` and ``failed`` go to the window's status bar and error reporter."""

    status = Signal(str)
    failed = Signal(str, str, str)  # message, detail, title
    checkpointsChanged = Signal()  # the workspace's snapshot was shown: actions that need checkpoints may change

    def __init__(self, pool: QThreadPool, workspace: Workspace, config: ConfigForm, parent: QWidget) -> None:
        super().__init__(parent)
        self._dialog_parent = parent
        self.workspace = workspace
        self.config = config
        self.plots = PlotPanel(pool)
        self.directory = DirectoryView(pool, workspace)
        self.monitor_splitter = QSplitter(Qt.Orientation.Vertical)
        self.monitor_splitter.setObjectName("monitorSplitter")
        self.monitor_splitter.addWidget(self.plots)
        self.monitor_splitter.addWidget(self.directory)
        self.monitor_splitter.setStretchFactor(0, 3)
        self.monitor_splitter.setStretchFactor(1, 2)
        self.restore = RestorePanel(pool, workspace)
        self.compare = ComparePanel(pool, workspace)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.monitor_splitter, icon("start"), "Monitor")
        self.tabs.addTab(self.restore, icon("restore"), "Restore")
        self.tabs.addTab(self.compare, icon("compare"), "Compare")
        self._connect()

    def _connect(self) -> None:
        self.config.datasetChanged.connect(self.restore.set_dataset)
        self.config.datasetChanged.connect(self.compare.set_dataset)
        self.workspace.model_dir_changed.connect(self.plots.set_path)
        self.workspace.snapshot_changed.connect(self._snapshot_changed)
        self.directory.restoreRequested.connect(self.restore_prefix)
        self.directory.compareRequested.connect(self.compare_prefix)
        self.directory.pinToggled.connect(self.set_pinned)
        self.restore.adoptRequested.connect(self.adopt_network)
        self.restore.network_source = self._network_for_restore
        self.restore.load_data = self.config.load_then
        for source in (self.directory, self.plots, self.restore, self.compare):
            source.failed.connect(lambda message, detail: self.failed.emit(message, detail, "ckptgui"))
        self.restore.status.connect(self.status)
        self.compare.status.connect(self.status)

    def _snapshot_changed(self, _snapshot: Snapshot) -> None:
        self.plots.set_checkpoints(self.workspace.steps(), sorted(self.workspace.swept_steps))
        if not self.plots.training:  # while training, the plots poll on their own (slower) clock
            self.plots.poll()
        self.checkpointsChanged.emit()

    # Going to a checkpoint -----------------------------------------------------------------------
    def show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)

    @Slot()
    def restore_selected(self) -> None:
        prefix = self.workspace.selected_prefix or self.restore.current_prefix()
        if prefix:
            self.restore_prefix(prefix)
        else:
            self.show_tab(RESTORE)

    @Slot(str)
    def restore_prefix(self, prefix: str) -> None:
        self.show_tab(RESTORE)
        self.restore.select_prefix(prefix)
        self.restore.check_compatibility()

    @Slot(str)
    def compare_prefix(self, prefix: str) -> None:
        self.show_tab(COMPARE)
        self.compare.set_b(prefix)

    @Slot(int, bool)
    def set_pinned(self, step: int, pinned: bool) -> None:
        if self.workspace.model_dir is None:
            return
        try:
            set_pinned(self.workspace.model_dir, step, pinned)
        except (OSError, RunLogError) as exc:
            self.failed.emit(f"Cannot {'pin' if pinned else 'unpin'} step {step}: {exc}", "", "Pin")
            return
        self.status.emit(f"Step {step:,} {'pinned: retention never deletes it' if pinned else 'unpinned'}")
        self.directory.refresh()

    def _network_for_restore(self) -> tuple[NetworkConfig | None, str]:
        """The form's network for the compatibility check, or why there is none."""
        try:
            return self.config.spec().network, ""
        except ConfigError as exc:
            return None, f"the network config is not valid ({exc.field}: {exc.message})"

    @Slot(object)
    def adopt_network(self, inferred: InferredNetwork) -> None:
        self.status.emit(self.config.adopt_network(inferred))

    # Exports -------------------------------------------------------------------------------------
    @Slot()
    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._dialog_parent, "Export plots", default_export_name(self.plots.path, "png"), "PNG image (*.png)"
        )
        if path:
            try:
                self.plots.export_png(path)
            except OSError as exc:
                self.failed.emit(str(exc), "", "Export failed")
                return
            self.status.emit(f"Plots saved to {path}")

    @Slot()
    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._dialog_parent, "Export scalars", default_export_name(self.plots.path, "csv"), "CSV (*.csv)"
        )
        if path:
            try:
                count = self.plots.export_csv(path)
            except OSError as exc:
                self.failed.emit(f"{path}: {exc.strerror or exc}", "", "Export failed")
                return
            self.status.emit(f"{count} series saved to {path}")
