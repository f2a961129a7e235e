"""The main window: configure on the left; plots and the live model_dir, restore and compare on the right.

Data flows one way (DESIGN.md): the config goes to a Trainer on a worker
thread; the trainer writes files; the directory view and the plots read the
model_dir through the core readers, so another process's model_dir looks
exactly like ours. TensorFlow is imported on the GUI thread right after the
first paint, behind a status message (importing it in a worker holds the GIL
and freezes the window).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ckptgui import __version__
from ckptgui.gui.icons import app_icon, icon
from ckptgui.gui.settings import Settings
from ckptgui.gui.widgets.compare_panel import ComparePanel
from ckptgui.gui.widgets.compat_dialog import ADOPT, NEW_DIR, WARM_START, IncompatibleDialog
from ckptgui.gui.widgets.config_form import ConfigForm
from ckptgui.gui.widgets.directory_view import DirectoryView
from ckptgui.gui.widgets.plots import PlotPanel, default_export_name
from ckptgui.gui.widgets.restore_panel import RestorePanel, network_from_checkpoint
from ckptgui.gui.widgets.train_controls import TrainControls
from ckptgui.gui.workers import MainThreadGarbageCollector, TrainingSession, describe_exception
from ckptgui.modeldir.config import ConfigError, NetworkConfig, RunSpec
from ckptgui.modeldir.records import RunLogError, set_pinned
from ckptgui.modeldir.snapshot import Snapshot
from ckptgui.workspace.model import Workspace

STATUS_MS = 8000
MONITOR, RESTORE, COMPARE = range(3)
POOL_THREADS = 4


def _leave_a_core_for_the_window(tf: Any) -> None:
    """TensorFlow's thread pools: one inter-op thread and one core fewer than this process may use.

    By default TensorFlow takes every core; on the guide's small network its
    pools kept about 1.25 cores busy and trained no faster than with one
    thread, and the window's own thread then waited for a core to draw on.
    Settable only before TensorFlow runs its first op: where it already has
    (a test that trained before opening a window), its pools stay as they are.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores - 1))
        tf.config.threading.set_inter_op_parallelism_threads(1)


def _warm_up(tf: Any) -> None:
    """Run TensorFlow's one-time set-ups (eager context, XLA's JIT) here, behind the loading message.

    Done first inside the training thread, they hold the GIL in C++ for a few
    hundred milliseconds and the window stops answering at the start of the first run.
    """
    value = tf.constant(1.0)
    tf.function(lambda x: x + 1)(value)
    with contextlib.suppress(Exception):  # a build without XLA: the trainer finds out and runs without it
        tf.function(lambda x: x * 2, jit_compile=True)(value)


def _open_or_none(dialog: Any) -> Any:
    """``dialog`` while it is on screen; None once closed, or already deleted by Qt."""
    try:
        return dialog if dialog is not None and dialog.isVisible() else None
    except RuntimeError:
        return None


def _short_path(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


class MainWindow(QMainWindow):
    """One window per process; ``settings`` defaults to the application's QSettings."""

    firstPainted = Signal()
    tensorflowLoaded = Signal()
    trainingStarted = Signal(object)  # the Started event
    trainingFinished = Signal(object)  # the Finished event, or None when it failed
    errorReported = Signal(str, str)

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.workspace = Workspace()
        self.session: TrainingSession | None = None
        self.tensorflow_ready = False
        self.first_paint_time: float | None = None
        self.last_error: tuple[str, str] | None = None
        self._painted = False
        self._close_after_stop = False
        self._incompatible: IncompatibleDialog | None = None
        self._error_box: QMessageBox | None = None
        self._close_box: QMessageBox | None = None
        # Not a child of the window: a QThreadPool destroyed inside the window's C++ destructor waits for its
        # jobs while holding the GIL, and a job that needs the GIL to finish would then never finish.
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(POOL_THREADS)
        self.garbage_collector = MainThreadGarbageCollector(self)

        self.setWindowTitle(f"ckptgui {__version__}")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self._build_actions()
        self._build_widgets()
        self._build_menus()
        self._connect()
        self._restore_settings()
        self._update_actions()
        self.installEventFilter(self)

    # Construction --------------------------------------------------------------------------------
    def _action(self, name: str, text: str, shortcut: Any = None, tip: str = "", slot: Any = None) -> QAction:
        action = QAction(icon(name), text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('…', '')} ({shown})" if shown else tip or text)
        action.setStatusTip(tip or text)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.open_action = self._action("open", "&Open model_dir…", key.Open, "Open a model_dir", self.choose_model_dir)
        self.new_dir_action = self._action(
            "new-dir", "&New temporary model_dir", key.New, "Train into a fresh temporary model_dir", self.new_model_dir
        )
        self.file_manager_action = self._action(
            "file-manager", "Show in &file manager", "Ctrl+Shift+O", "Open the model_dir in the file manager"
        )
        self.refresh_action = self._action("reload", "&Refresh", ["Ctrl+Shift+R"], "Read the model_dir again")
        self.export_png_action = self._action(
            "export-png", "Export plots as &PNG…", "Ctrl+E", "Save the plots as an image", self.export_png
        )
        self.export_csv_action = self._action(
            "export-csv", "Export scalars as &CSV…", "Ctrl+Shift+E", "Save every plotted point", self.export_csv
        )
        self.quit_action = self._action("quit", "&Quit", key.Quit, "Close the window", self.close)
        self.start_action = self._action(
            "start", "&Start", ["F5", "Ctrl+Return"], "Start training with this config", self.start_training
        )
        self.pause_action = self._action("pause", "&Pause", "F6", "Pause or resume training", self.toggle_pause)
        self.stop_action = self._action(
            "stop", "S&top", "Shift+F5", "Stop training (writes a final checkpoint)", self.stop_training
        )
        self.restore_action = self._action(
            "restore", "&Restore selected step", "Ctrl+R", "Restore the selected checkpoint", self.restore_selected
        )
        self.compare_action = self._action(
            "compare", "&Compare steps", "Ctrl+D", "Compare two checkpoints", lambda: self.show_tab(COMPARE)
        )
        self.log_action = self._action("", "&Log scale", "Ctrl+L", "Logarithmic y axis on the plots")
        self.log_action.setCheckable(True)
        self.help_action = self._action("help", "&Keyboard shortcuts", key.HelpContents, "", self.show_shortcuts)
        self.tab_actions = [
            self._action("", name, f"Ctrl+{i + 1}", f"Show the {name} view", lambda _=False, i=i: self.show_tab(i))
            for i, name in enumerate(("Monitor", "Restore", "Compare"))
        ]

    def _build_widgets(self) -> None:
        self.config = ConfigForm(self.pool, self.workspace)
        self.controls = TrainControls(self.start_action, self.pause_action, self.stop_action)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.config)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self.controls)
        self.config_dock = QDockWidget("Configuration", self)
        self.config_dock.setObjectName("configDock")
        self.config_dock.setWidget(left)
        self.config_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.config_dock)

        self.plots = PlotPanel(self.pool)
        self.directory = DirectoryView(self.pool, self.workspace)
        self.monitor_splitter = QSplitter(Qt.Orientation.Vertical)
        self.monitor_splitter.setObjectName("monitorSplitter")
        self.monitor_splitter.addWidget(self.plots)
        self.monitor_splitter.addWidget(self.directory)
        self.monitor_splitter.setStretchFactor(0, 3)
        self.monitor_splitter.setStretchFactor(1, 2)
        self.restore = RestorePanel(self.pool, self.workspace)
        self.compare = ComparePanel(self.pool, self.workspace)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.monitor_splitter, icon("start"), "Monitor")
        self.tabs.addTab(self.restore, icon("restore"), "Restore")
        self.tabs.addTab(self.compare, icon("compare"), "Compare")
        self.setCentralWidget(self.tabs)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_action, self.new_dir_action, None, self.start_action, self.pause_action,
                       self.stop_action, None, self.restore_action, self.compare_action, None,
                       self.export_png_action, self.export_csv_action):  # fmt: skip
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        self.status_label = QLabel()
        self.tf_label = QLabel("TensorFlow: not loaded")
        self.statusBar().addPermanentWidget(self.tf_label)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.new_dir_action)
        file_menu.addAction(self.file_manager_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_png_action)
        file_menu.addAction(self.export_csv_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = bar.addMenu("&Train")
        for action in (self.start_action, self.pause_action, self.stop_action):
            train_menu.addAction(action)
        checkpoints = bar.addMenu("&Checkpoints")
        for action in (self.restore_action, self.compare_action, self.refresh_action):
            checkpoints.addAction(action)
        view = bar.addMenu("&View")
        view.addAction(self.config_dock.toggleViewAction())
        view.addAction(self.log_action)
        view.addSeparator()
        for action in self.tab_actions:
            view.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.help_action)
        help_menu.addAction("&About ckptgui", self.show_about)
        self._fill_recent_menu()

    def _connect(self) -> None:
        self.config.validityChanged.connect(self._update_actions)
        self.config.datasetChanged.connect(self.restore.set_dataset)
        self.config.datasetChanged.connect(self.compare.set_dataset)
        self.file_manager_action.triggered.connect(self.config.open_in_file_manager)
        self.refresh_action.triggered.connect(self.directory.refresh)
        self.refresh_action.triggered.connect(self.plots.poll)
        self.log_action.toggled.connect(self.plots.set_log_scale)
        self.plots.log_scale.toggled.connect(self.log_action.setChecked)
        self.workspace.model_dir_changed.connect(self.plots.set_path)
        self.workspace.snapshot_changed.connect(self._snapshot_changed)
        self.workspace.run_spec_changed.connect(self._run_spec_changed)
        self.directory.restoreRequested.connect(self.restore_prefix)
        self.directory.compareRequested.connect(self.compare_prefix)
        self.directory.pinToggled.connect(self.set_pinned)
        self.restore.adoptRequested.connect(self.adopt_network)
        self.restore.continueRequested.connect(self.continue_from)
        self.restore.network_source = self._network_for_restore
        for source in (self.config, self.directory, self.plots, self.restore, self.compare):
            if hasattr(source, "failed"):
                source.failed.connect(self.report_error)
        self.restore.status.connect(self.show_status)
        self.compare.status.connect(self.show_status)

    # Settings ------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.layout("state")
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.layout("monitor")
        if splitter is not None:
            self.monitor_splitter.restoreState(splitter)
        spec = self.settings.last_spec()
        if spec is not None:
            self.config.set_spec(spec)
        self.plots.set_smoothing(float(self.settings.value("smoothing", self.plots.smoothing_weight)))
        self.plots.set_log_scale(bool(self.settings.value("log_scale", False)))

    def save_settings(self) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("state", self.saveState())
        self.settings.set_layout("monitor", self.monitor_splitter.saveState())
        self.settings.set_value("smoothing", self.plots.smoothing_weight)
        self.settings.set_value("log_scale", self.plots.log_scale.isChecked())
        with contextlib.suppress(ConfigError):  # an invalid form keeps the last valid config
            self.settings.set_last_spec(self.config.spec())
        self.settings.sync()

    # First paint, then TensorFlow ----------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Watches the window's own events until its first paint, then stops.

        A Python ``event()`` override would stay in the path of every paint of
        the window, and Qt would then paint the whole window holding the GIL —
        time the training thread waits for.
        """
        if watched is self and event.type() == QEvent.Type.Paint and not self._painted:
            self._painted = True
            self.removeEventFilter(self)
            QTimer.singleShot(0, self._after_first_paint)  # after the children of this paint are drawn
        return False

    @Slot()
    def _after_first_paint(self) -> None:
        self.first_paint_time = time.time()
        self.firstPainted.emit()
        if not self.tensorflow_ready:
            self.show_status("Loading TensorFlow…", 0)
            QTimer.singleShot(0, self.load_tensorflow)

    @Slot()
    def load_tensorflow(self) -> None:
        """Import TensorFlow and the modules that need it, on the GUI thread; a no-op once done."""
        if self.tensorflow_ready:
            return
        self.statusBar().repaint()
        try:
            tf = importlib.import_module("tensorflow")
            for name in ("ckptgui.engine.training", "ckptgui.engine.model", "ckptgui.engine.inference"):
                importlib.import_module(name)
            _leave_a_core_for_the_window(tf)
            _warm_up(tf)
            gc.freeze()  # TensorFlow's many long-lived objects: out of every later full collection
        except Exception as exc:  # noqa: BLE001 - a broken install is reported, the window stays usable
            self.report_error(*describe_exception(exc), title="TensorFlow cannot be loaded")
            self.tf_label.setText("TensorFlow: failed to load")
            return
        self.tensorflow_ready = True
        self.tf_label.setText(f"TensorFlow {tf.__version__}")
        self.show_status("Ready")
        self._update_actions()
        self.tensorflowLoaded.emit()

    # Status and errors ---------------------------------------------------------------------------
    @Slot(str)
    def show_status(self, text: str, timeout: int = STATUS_MS) -> None:
        self.statusBar().showMessage(text, timeout)

    @Slot(str, str)
    def report_error(self, message: str, detail: str = "", title: str = "ckptgui") -> None:
        """The one place worker and action errors go: the status bar and a dialog with the details."""
        self.last_error = (message, detail)
        first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
        self.show_status(f"Error: {first_line}", 30_000)
        box = self._error_box
        if box is None:
            box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Close, self)
            box.setObjectName("errorDialog")
            self._error_box = box
        box.setWindowTitle(title)
        box.setText(message)
        box.setDetailedText(detail)
        box.open()
        self.errorReported.emit(message, detail)

    # Opening model_dirs --------------------------------------------------------------------------
    @Slot()
    def choose_model_dir(self) -> None:
        start = self.config.model_dir_text() or (self.settings.recent_dirs() or [str(Path.home())])[0]
        path = QFileDialog.getExistingDirectory(self, "Open a model_dir", start)
        if path:
            self.open_model_dir(path)

    def open_model_dir(self, path: str) -> bool:
        """Show ``path`` everywhere (directory view, plots, restore, compare); load its run config if it has one."""
        if self.training:
            self.report_error("Stop training before opening another model_dir.", title="Training is running")
            return False
        target = Path(path).expanduser()
        if not target.is_dir():
            what = "is a file" if target.exists() else "does not exist"
            self.report_error(f"{target} {what}; expected a model_dir (a directory).", title="Cannot open")
            return False
        self.workspace.set_model_dir(str(target))
        note = self.workspace.load_run_spec()
        if note:
            self.show_status(note)
        resolved = self.workspace.model_dir or ""
        self.settings.add_recent_dir(resolved)
        self._fill_recent_menu()
        self.show_tab(MONITOR)
        loaded = " (config loaded from its run log)" if self.workspace.run_spec is not None else ""
        self.show_status(f"Opened {_short_path(resolved)}{loaded}")
        return True

    def _run_spec_changed(self, spec: RunSpec | None) -> None:
        """Fill the form with the network/schedule/data a ckptgui run recorded in ``ckptgui_run.json``."""
        if spec is not None:
            self.config.set_spec(replace(spec, model_dir=self.workspace.model_dir))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        dirs = self.settings.recent_dirs()
        for index, path in enumerate(dirs):
            action = self.recent_menu.addAction(f"&{index + 1} {_short_path(path)}")
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: self.open_model_dir(p))
        if dirs:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        self.recent_menu.setEnabled(bool(dirs))

    @Slot()
    def _clear_recent(self) -> None:
        self.settings.clear_recent_dirs()
        self._fill_recent_menu()

    @Slot()
    def new_model_dir(self) -> None:
        if not self.training:
            self.config.use_new_temporary_dir()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_dir(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_dir(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_model_dir(path)

    @staticmethod
    def _dropped_dir(event: QDragEnterEvent | QDropEvent) -> str | None:
        """A dropped folder, or the folder of a dropped file (a checkpoint, an events file)."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        local = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        if not local:
            return None
        first = local[0]
        return str(first if first.is_dir() else first.parent)

    # Views ---------------------------------------------------------------------------------------
    def show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)

    def _snapshot_changed(self, _snapshot: Snapshot) -> None:
        self.plots.set_checkpoints(self.workspace.steps(), sorted(self.workspace.swept_steps))
        if not self.plots.training:  # while training, the plots poll on their own (slower) clock
            self.plots.poll()
        self._update_actions()

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
            self.report_error(f"Cannot {'pin' if pinned else 'unpin'} step {step}: {exc}", title="Pin")
            return
        self.show_status(f"Step {step:,} {'pinned: retention never deletes it' if pinned else 'unpinned'}")
        self.directory.refresh()

    def _network_for_restore(self) -> tuple[NetworkConfig | None, str]:
        """The form's network for the compatibility check, or why there is none."""
        try:
            return self.config.spec().network, ""
        except ConfigError as exc:
            return None, f"the network config is not valid ({exc.field}: {exc.message})"

    @Slot(object)
    def adopt_network(self, inferred: Any) -> None:
        try:
            current = self.config.spec().network
        except ConfigError:
            current = NetworkConfig()
        self.config.set_network(network_from_checkpoint(inferred, current, self.config.dataset))
        self.show_status(f"Network set from the checkpoint: hidden_units {inferred.hidden_units}")

    @Slot(str, str)
    def continue_from(self, new_dir: str, prefix: str) -> None:
        """Continue training from a copied checkpoint in ``new_dir`` (the restore panel made the copy)."""
        if self.training:
            self.report_error("Training is already running.", title="Continue training")
            return
        self.workspace.set_model_dir(new_dir)
        self.show_tab(MONITOR)
        self.show_status(f"Continuing from {Path(prefix).name} in {_short_path(new_dir)}")
        self.start_training()

    # Training ------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.session is not None

    @Slot()
    def start_training(self) -> None:
        if self.training:
            return
        if not self.config.valid:
            problems = "; ".join(f"{k}: {v}" for k, v in self.config.errors.items()) or "the data is still loading"
            self.show_status(f"Cannot start: {problems}")
            return
        spec = self.config.spec()
        if spec.model_dir is None:
            spec.model_dir = tempfile.mkdtemp(prefix="ckptgui-")
            self.workspace.set_model_dir(spec.model_dir)
        else:
            self.config.apply_model_dir()
        self.load_tensorflow()
        if not self.tensorflow_ready:
            return
        from ckptgui.engine.training import preflight

        try:
            report = preflight(spec)
        except Exception as exc:  # noqa: BLE001 - damaged checkpoints, unreadable data: say so, do not start
            self.report_error(*describe_exception(exc), title="Cannot start training")
            return
        if report is not None and not report.compatible:
            self._ask_incompatible(spec, report)
            return
        self._launch(spec)

    def _ask_incompatible(self, spec: RunSpec, report: Any) -> None:
        from ckptgui.modeldir.scan import CheckpointError
        from ckptgui.modeldir.variables import list_variables

        n_features = self.config.dataset.n_features if self.config.dataset else 0
        try:
            shapes = {v.name: v.shape for v in list_variables(report.prefix)}
        except (CheckpointError, OSError):
            shapes = {}  # the table then shows the mismatches only
        dialog = IncompatibleDialog(report, spec.model_dir or "", n_features, shapes, self)
        dialog.setObjectName("incompatibleDialog")
        dialog.chosen.connect(lambda choice: self._incompatible_chosen(choice, spec, report))
        dialog.finished.connect(dialog.deleteLater)
        self._incompatible = dialog
        dialog.open()

    @property
    def incompatible_dialog(self) -> IncompatibleDialog | None:
        return _open_or_none(self._incompatible)

    def _incompatible_chosen(self, choice: str, spec: RunSpec, report: Any) -> None:
        self._incompatible = None
        if choice in (NEW_DIR, WARM_START):
            spec.model_dir = tempfile.mkdtemp(prefix="ckptgui-")
            self.workspace.set_model_dir(spec.model_dir)
            self._launch(spec, warm_start_from=report.prefix if choice == WARM_START else None)
        elif choice == ADOPT:
            self.adopt_network(report.checkpoint_network)
            QTimer.singleShot(0, self.start_training)  # checks again: the data may still not fit
        else:
            self.show_status("Training not started: the checkpoint does not fit the config")

    def _launch(self, spec: RunSpec, warm_start_from: str | None = None) -> None:
        self.settings.set_last_spec(spec)
        session = TrainingSession(spec, warm_start_from, self)
        session.event.connect(self._on_event)
        session.progress.connect(self._on_progress)
        session.failed.connect(self._on_failed)
        session.finished.connect(self._on_session_finished)
        self.session = session
        self.config.setEnabled(False)
        self.plots.set_training((0, spec.network.steps))
        self.workspace.set_training(True)
        self.controls.begin(0, spec.network.steps)
        self.show_status(f"Preparing to train into {_short_path(spec.model_dir or '')}…", 0)
        self._update_actions()
        session.start()

    @Slot()
    def toggle_pause(self) -> None:
        if self.session is None or self.session.stopping:
            return
        if self.session.paused:
            self.session.resume()
            self.show_status("Resuming…", 0)
        else:
            self.session.pause()
            self.show_status("Pausing after the current chunk of steps…", 0)
        self._update_actions()

    @Slot()
    def stop_training(self) -> None:
        if self.session is None or self.session.stopping:
            return
        self.session.stop()
        self.show_status("Stopping: writing a final checkpoint…", 0)
        self._update_actions()

    @Slot(object)
    def _on_event(self, event: Any) -> None:
        from ckptgui.engine import training as t

        if isinstance(event, t.Started):
            self.controls.begin(event.start_step, event.target_step)
            self.plots.set_training((0, event.target_step))
            resumed = f", resumed from {Path(event.resumed_from).name}" if event.resumed_from else ""
            self.show_status(f"Training steps {event.start_step:,} → {event.target_step:,}{resumed}", 0)
            for note in event.notes:
                self.show_status(note, STATUS_MS)
            self.trainingStarted.emit(event)
        elif isinstance(event, t.CheckpointSaved | t.CheckpointDeleted):
            self.directory.poke()  # the watcher sees it too; one debounced look serves both
        elif isinstance(event, t.Evaluated):
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(event.metrics.items()))
            self.show_status(f"Step {event.step:,}: checkpoint saved; eval {metrics}", 0)
        elif isinstance(event, t.Paused):
            self.controls.end(event.step, "paused")
            self.show_status(f"Paused at step {event.step:,}", 0)
        elif isinstance(event, t.Resumed):
            self.show_status(f"Resumed at step {event.step:,}", 0)
        elif isinstance(event, t.Finished):
            self.controls.end(event.step, "stopped" if event.stopped else "finished")
            self.show_status(f"Training {'stopped' if event.stopped else 'finished'} at step {event.step:,}")
            self.trainingFinished.emit(event)
        elif isinstance(event, t.Failed):
            self._on_failed(event.message, event.detail, None)

    @Slot(object)
    def _on_progress(self, progress: Any) -> None:
        if self.session is not None and self.session.paused:
            return
        self.controls.show_progress(progress.step, progress.target_step, progress.steps_per_sec, progress.elapsed)

    @Slot(str, str, object)
    def _on_failed(self, message: str, detail: str, exc: object) -> None:
        from ckptgui.engine.training import IncompatibleCheckpointError

        self.controls.end(self.controls.bar.value(), "failed")
        if isinstance(exc, IncompatibleCheckpointError) and self.session is not None:
            spec = self.session.spec
            QTimer.singleShot(0, lambda: self._ask_incompatible(spec, exc.report))
            return
        self.report_error(message, detail, title="Training failed")
        self.trainingFinished.emit(None)

    @Slot()
    def _on_session_finished(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.deleteLater()
        self.config.setEnabled(True)
        self.config.refresh()
        self.plots.set_training(None)
        self.workspace.set_training(False)
        self.directory.refresh()
        self.plots.poll()
        self._update_actions()
        if self._close_after_stop:
            self.close()

    @Slot()
    def _update_actions(self) -> None:
        training = self.training
        stopping = training and self.session.stopping
        self.start_action.setEnabled(not training and self.config.valid)
        self.pause_action.setEnabled(training and not stopping)
        paused = training and self.session.paused
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.pause_action.setIcon(icon("start" if paused else "pause"))
        self.stop_action.setEnabled(training and not stopping)
        self.open_action.setEnabled(not training)
        self.new_dir_action.setEnabled(not training)
        self.recent_menu.setEnabled(not training and bool(self.settings.recent_dirs()))
        has_checkpoints = bool(self.workspace.steps())
        self.restore_action.setEnabled(has_checkpoints)
        self.compare_action.setEnabled(has_checkpoints)

    # Exports -------------------------------------------------------------------------------------
    @Slot()
    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export plots", default_export_name(self.plots.path, "png"), "PNG image (*.png)"
        )
        if path:
            try:
                self.plots.export_png(path)
            except OSError as exc:
                self.report_error(str(exc), title="Export failed")
                return
            self.show_status(f"Plots saved to {path}")

    @Slot()
    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export scalars", default_export_name(self.plots.path, "csv"), "CSV (*.csv)"
        )
        if path:
            try:
                count = self.plots.export_csv(path)
            except OSError as exc:
                self.report_error(f"{path}: {exc.strerror or exc}", title="Export failed")
                return
            self.show_status(f"{count} series saved to {path}")

    # Help ----------------------------------------------------------------------------------------
    def shortcut_table(self) -> list[tuple[str, str]]:
        actions = [self.open_action, self.new_dir_action, self.file_manager_action, self.start_action,
                   self.pause_action, self.stop_action, self.restore_action, self.compare_action, self.refresh_action,
                   self.export_png_action, self.export_csv_action, self.log_action, *self.tab_actions,
                   self.help_action, self.quit_action]  # fmt: skip
        rows = []
        for action in actions:
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            rows.append((action.text().replace("&", "").replace("…", ""), keys))
        return rows

    @Slot()
    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(dialog)
        text = QTextBrowser()
        rows = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in self.shortcut_table())
        text.setHtml(f"<table cellpadding='4'>{rows}</table>")
        layout.addWidget(text)
        dialog.resize(420, 480)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ckptgui",
            f"<b>ckptgui {__version__}</b><br>A desktop checkpoint manager for TensorFlow training.<br>"
            f"Python {sys.version.split()[0]}",
        )

    # Closing -------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.session is not None:
            event.ignore()
            if not self._close_after_stop:
                self._ask_close_while_training()
            return
        self.save_settings()
        self.directory.watcher.set_path(None)
        self.plots.set_path(None)
        self.pool.clear()  # queued jobs are not started; running ones end (their results are dropped)
        self.pool.waitForDone(30_000)
        self.garbage_collector.stop()
        event.accept()

    def _ask_close_while_training(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Training is running",
            "Stop training and close? A final checkpoint is written first.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("closeDialog")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(box.deleteLater)
        box.buttonClicked.connect(
            lambda button: (
                self._stop_and_close() if box.standardButton(button) == QMessageBox.StandardButton.Yes else None
            )
        )
        self._close_box = box
        box.open()

    @property
    def close_dialog(self) -> QMessageBox | None:
        return _open_or_none(self._close_box)

    @Slot()
    def _stop_and_close(self) -> None:
        if self._close_after_stop:
            return
        self._close_after_stop = True
        self.stop_training()
        self.show_status("Stopping: the window closes once the final checkpoint is written…", 0)

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Last resort when the application quits with training still running: stop and wait (blocking)."""
        if self.session is not None:
            self.session.stop()
            self.session.wait(timeout_ms)
        self.pool.waitForDone(timeout_ms)


class _AppQuitGuard(QObject):
    """Waits for the worker threads when the application quits (napari's aboutToQuit habit)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        QApplication.instance().aboutToQuit.connect(self._on_quit)

    @Slot()
    def _on_quit(self) -> None:
        self._window.shutdown()


def install_quit_guard(window: MainWindow) -> None:
    _AppQuitGuard(window)
