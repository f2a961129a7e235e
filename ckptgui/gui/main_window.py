"""The main window: configure on the left; plots and the live model_dir, restore and compare on the right.

What the window shows lives in a Qt-free :class:`Workspace` the views observe.
This module puts together the configuration dock, the panels (``panels.py``),
the actions (``actions.py``) and the training controller
(``training_controller.py``); it opens model_dirs, shows status, routes every
error to one reporter, and closes cleanly. Data flows one way: the config goes to a
Trainer on a worker thread; the trainer writes files; the directory view and
the plots read the model_dir through the modeldir readers, so another
process's model_dir looks exactly like ours. TensorFlow is imported on the GUI
thread right after the first paint, behind a status message (importing it in a
worker holds the GIL and freezes the window).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ckptgui import __version__
from ckptgui.gui import engine
from ckptgui.gui.actions import WindowActions, show_about, show_shortcuts
from ckptgui.gui.icons import app_icon, icon
from ckptgui.gui.notifier import Notifier
from ckptgui.gui.panels import COMPARE, MONITOR, Panels
from ckptgui.gui.settings import Settings
from ckptgui.gui.temporary_dirs import LeftoversDialog, ask_about_leftovers
from ckptgui.gui.training_controller import STATUS_MS, TrainingController, short_path
from ckptgui.gui.widgets.config_form import ConfigForm
from ckptgui.gui.widgets.train_controls import TrainControls
from ckptgui.gui.workers import MainThreadGarbageCollector, describe_exception
from ckptgui.modeldir.config import ConfigError, RunSpec
from ckptgui.modeldir.lock import Holder
from ckptgui.storage import scheme_of
from ckptgui.workspace.model import Workspace

POOL_THREADS = 4
DOCK_WIDTH = 360  # the form's width: a field's one-line message fits its reserved line


class MainWindow(QMainWindow):
    """One window per process; ``settings`` defaults to the application's QSettings."""

    firstPainted = Signal()
    tensorflowLoaded = Signal()
    errorReported = Signal(str, str)

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.workspace = Workspace()
        self.tensorflow_ready = False
        self.first_paint_time: float | None = None
        self.last_error: tuple[str, str] | None = None
        self._painted = False
        self._error_box: QMessageBox | None = None
        self._leftovers: LeftoversDialog | None = None
        self._start_refusal: str | None = None  # why Start is disabled now, said when F5 is pressed anyway
        self._leftovers_answered = False
        # Not a child of the window: a QThreadPool destroyed inside the window's C++ destructor waits for its
        # jobs while holding the GIL, and a job that needs the GIL to finish would then never finish.
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(POOL_THREADS)
        self.garbage_collector = MainThreadGarbageCollector(self)

        self.setWindowTitle(f"ckptgui {__version__}")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self.window_actions = WindowActions(self)
        self.notifier = Notifier(self)
        self._build_widgets()
        self.window_actions.build_toolbar()
        self.window_actions.build_menus(self.config_dock, lambda: show_about(self))
        self._add_runs_entry()
        self._fill_recent_menu()
        # F5 while Start is disabled: say why instead of nothing (enabled only then: never ambiguous with Start).
        self.start_refused = QShortcut(self)
        self.start_refused.setKeys(self.window_actions.start.shortcuts())
        self.start_refused.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.training_controller = TrainingController(
            self, self.workspace, self.config, self.panels.plots, self.panels.directory, self.controls,
            self._engine_ready, self.settings.set_last_spec,
        )  # fmt: skip
        self._connect()
        self._restore_settings()
        self._update_actions()
        self.installEventFilter(self)

    # Construction --------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.config = ConfigForm(self.pool, self.workspace)
        actions = self.window_actions
        self.controls = TrainControls(actions.start, actions.pause, actions.stop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.config)
        # Never narrower than the form: no field is clipped at the right, only the form scrolls (vertically).
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(
            max(self.config.minimumSizeHint().width(), DOCK_WIDTH) + scroll.verticalScrollBar().sizeHint().width() + 4
        )
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

        self.panels = Panels(self.pool, self.workspace, self.config, self)
        self.setCentralWidget(self.panels.tabs)
        self.tf_label = QLabel("TensorFlow: not loaded")
        self.statusBar().addPermanentWidget(self.tf_label)

    def _connect(self) -> None:
        actions, panels, training = self.window_actions, self.panels, self.training_controller
        actions.open.triggered.connect(self.choose_model_dir)
        actions.open_url.triggered.connect(self.choose_model_dir_url)
        actions.new_dir.triggered.connect(self.new_model_dir)
        actions.file_manager.triggered.connect(self.config.open_in_file_manager)
        actions.refresh.triggered.connect(panels.directory.refresh)
        actions.refresh.triggered.connect(panels.plots.poll)
        actions.export_png.triggered.connect(panels.export_png)
        actions.export_csv.triggered.connect(panels.export_csv)
        actions.quit.triggered.connect(self.close)
        actions.start.triggered.connect(lambda: training.start())
        self.start_refused.activated.connect(self._start_refused)
        self.config.message.connect(lambda text: self.show_status(text, 30_000))
        actions.pause.triggered.connect(training.toggle_pause)
        actions.stop.triggered.connect(training.stop)
        actions.restore.triggered.connect(panels.restore_selected)
        actions.compare.triggered.connect(lambda: panels.show_tab(COMPARE))
        actions.log_scale.toggled.connect(panels.plots.set_log_scale)
        panels.plots.log_scale.toggled.connect(actions.log_scale.setChecked)
        actions.help.triggered.connect(lambda: show_shortcuts(self, actions.shortcut_table()))
        for index, action in enumerate(actions.tabs):
            action.triggered.connect(lambda _=False, i=index: panels.show_tab(i))

        self.config.validityChanged.connect(self._update_actions)
        self.workspace.run_spec_changed.connect(self._run_spec_changed)
        self.workspace.model_dir_changed.connect(self._model_dir_changed)
        panels.restore.continueRequested.connect(self.continue_from)
        panels.checkpointsChanged.connect(self._update_actions)
        panels.status.connect(self.show_status)
        panels.failed.connect(lambda message, detail, title: self.report_error(message, detail, title))
        training.status.connect(self.show_status)
        training.failed.connect(lambda message, detail, title: self.report_error(message, detail, title))
        training.changed.connect(self._update_actions)
        training.ended.connect(self._training_ended)
        training.finished.connect(self._notify_run_end)

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
            self.panels.monitor_splitter.restoreState(splitter)
        spec = self.settings.last_spec()
        if spec is not None:
            self.config.set_spec(spec)
        plots = self.panels.plots
        plots.set_smoothing(float(self.settings.value("smoothing", plots.smoothing_weight)))
        plots.set_log_scale(bool(self.settings.value("log_scale", False)))

    def save_settings(self) -> None:
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("state", self.saveState())
        self.settings.set_layout("monitor", self.panels.monitor_splitter.saveState())
        self.settings.set_value("smoothing", self.panels.plots.smoothing_weight)
        self.settings.set_value("log_scale", self.panels.plots.log_scale.isChecked())
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
        """Load the engine (``engine.load_tensorflow``) on the GUI thread; a no-op once done."""
        if self.tensorflow_ready:
            return
        self.statusBar().repaint()
        try:
            version = engine.load_tensorflow()
        except Exception as exc:  # noqa: BLE001 - a broken install is reported, the window stays usable
            self.report_error(*describe_exception(exc), title="TensorFlow cannot be loaded")
            self.tf_label.setText("TensorFlow: failed to load")
            return
        self.tensorflow_ready = True
        self.config.devices.set_devices(engine.devices())
        self.tf_label.setText(f"TensorFlow {version}")
        self.show_status("Ready")
        self._update_actions()
        self.tensorflowLoaded.emit()

    def _engine_ready(self) -> bool:
        """Load the engine now if the first paint has not yet; False when it cannot be loaded."""
        self.load_tensorflow()
        return self.tensorflow_ready

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

    @Slot()
    def choose_model_dir_url(self) -> None:
        current = self.workspace.model_dir or ""
        url, accepted = QInputDialog.getText(
            self,
            "Open URL",
            "A model_dir in a bucket (gs://bucket/path, s3://bucket/path):",
            text=current if scheme_of(current) else "gs://",
        )
        if accepted and url.strip():
            self.open_model_dir(url.strip())

    def _add_runs_entry(self) -> None:
        """File → Open folder of runs…, under Open URL…: the runs view, in a window of its own."""
        self.runs_window = None
        self.open_runs = QAction("Open folder of &runs…", self)
        self.open_runs.setStatusTip("Many model_dirs side by side: a table, their curves overlaid, what changed")
        self.open_runs.triggered.connect(lambda: self.open_runs_folder())
        self.menuBar().actions()[0].menu().insertAction(self.window_actions.new_dir, self.open_runs)

    def open_runs_folder(self, path: str | None = None) -> QMainWindow | None:
        """Open the runs view on ``path`` (asked for when None); pyqtgraph's view is built only now."""
        path = path or QFileDialog.getExistingDirectory(self, "Open a folder of runs")
        if not path:
            return None
        from ckptgui.gui.runs_view import RunsWindow

        self.runs_window = RunsWindow(self.pool, path, self)
        self.runs_window.view.failed.connect(lambda message, detail: self.report_error(message, detail))
        self.runs_window.show()
        return self.runs_window

    def open_model_dir(self, path: str) -> bool:
        """Open ``path`` in the workspace (every view follows); load the config its run log recorded, if any.

        A URL is opened without a look first (that would be a request on this thread): the live view says what it
        finds, and why a look failed (credentials, network, a missing extra) in its problems line."""
        if self.workspace.training:
            self.report_error("Stop training before opening another model_dir.", title="Training is running")
            return False
        target = Path(path).expanduser()
        if not scheme_of(path) and not target.is_dir():
            what = "is a file" if target.exists() else "does not exist"
            self.report_error(f"{target} {what}; expected a model_dir (a directory).", title="Cannot open")
            return False
        self.workspace.set_model_dir(path if scheme_of(path) else str(target))
        note = self.workspace.load_run_spec()
        if note:
            self.show_status(note)
        resolved = self.workspace.model_dir or ""
        self.settings.add_recent_dir(resolved)
        self._fill_recent_menu()
        self.panels.show_tab(MONITOR)
        loaded = " (config loaded from its run log)" if self.workspace.run_spec is not None else ""
        self.show_status(f"Opened {short_path(resolved)}{loaded}")
        return True

    def _run_spec_changed(self, spec: RunSpec | None) -> None:
        """Fill the form with the network/schedule/data a ckptgui run recorded in ``ckptgui_run.json``."""
        if spec is not None:
            self.config.set_spec(replace(spec, model_dir=self.workspace.model_dir), self.workspace.run_data)

    def _model_dir_changed(self, _path: str | None) -> None:
        if self.training_controller.session is None:  # a run's own new model_dir keeps its progress
            self.controls.reset()

    def _fill_recent_menu(self) -> None:
        self.window_actions.fill_recent_menu(self.settings.recent_dirs(), self.open_model_dir, self._clear_recent)

    @Slot()
    def _clear_recent(self) -> None:
        self.settings.clear_recent_dirs()
        self._fill_recent_menu()

    @Slot()
    def new_model_dir(self) -> None:
        if not self.workspace.training:
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

    # Training ----------------------------------------------------------------------------------
    @Slot(str, str)
    def continue_from(self, new_dir: str, prefix: str) -> None:
        """Continue training from a copied checkpoint in ``new_dir`` (the restore panel made the copy)."""
        if self.workspace.training:
            self.report_error("Training is already running.", title="Continue training")
            return
        self.workspace.set_model_dir(new_dir)
        self.panels.show_tab(MONITOR)
        self.show_status(f"Continuing from {Path(prefix).name} in {short_path(new_dir)}")
        self.training_controller.start(into_foreign=True)  # the user chose this copy: no question

    @Slot()
    def _update_actions(self) -> None:
        actions, session = self.window_actions, self.training_controller.session
        training = session is not None
        stopping = training and session.stopping
        paused = training and session.paused
        elsewhere = None if training else self.training_controller.trainer_elsewhere()
        self._start_refusal = None if training else _start_refusal(self.config, elsewhere)
        actions.start.setEnabled(not training and self._start_refusal is None)
        self.start_refused.setEnabled(self._start_refusal is not None)
        actions.start.setText("Training elsewhere" if elsewhere else "&Start")
        tip = self._start_refusal or f"Start training with this config ({actions.start.shortcut().toString()})"
        actions.start.setToolTip(tip)
        actions.start.setStatusTip(tip)
        if elsewhere is not None:
            QTimer.singleShot(2000, self._update_actions)  # look again: Start comes back when that run ends
        actions.pause.setEnabled(training and not stopping)
        actions.pause.setText("&Resume" if paused else "&Pause")
        actions.pause.setIcon(icon("start" if paused else "pause"))
        actions.stop.setEnabled(training and not stopping)
        actions.open.setEnabled(not training)
        actions.open_url.setEnabled(not training)
        actions.new_dir.setEnabled(not training)
        actions.recent_menu.setEnabled(not training and bool(self.settings.recent_dirs()))
        has_checkpoints = bool(self.workspace.steps())
        actions.restore.setEnabled(has_checkpoints)
        actions.compare.setEnabled(has_checkpoints)

    @Slot()
    def _start_refused(self) -> None:
        if self._start_refusal:
            self.show_status(self._start_refusal, 30_000)

    # Closing -------------------------------------------------------------------------------------
    @property
    def leftovers_dialog(self) -> LeftoversDialog | None:
        try:
            return self._leftovers if self._leftovers is not None and self._leftovers.isVisible() else None
        except RuntimeError:
            return None

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.training_controller.session is not None:
            event.ignore()
            self.training_controller.ask_stop_to_close()
            return
        if not self._leftovers_answered and self.config.temporary.leftovers():
            event.ignore()
            if self.leftovers_dialog is None:
                self._leftovers = ask_about_leftovers(self, self.config.temporary, self._leftovers_chosen)
            return
        self.save_settings()
        self.panels.directory.watcher.set_path(None)
        self.panels.plots.set_path(None)
        self.pool.clear()  # queued jobs are not started; running ones end (their results are dropped)
        self.pool.waitForDone(30_000)
        self.garbage_collector.stop()
        event.accept()

    def _leftovers_chosen(self, close: bool, problems: list[str]) -> None:
        self._leftovers = None
        if problems:
            detail = "\n".join(problems)
            self.report_error("Some temporary model_dirs were not deleted.", detail, "Temporary model_dirs")
            return
        if close:
            self._leftovers_answered = True
            self.close()

    @Slot(object)
    def _notify_run_end(self, finished: object) -> None:
        """A run started here finished (``Finished``) or failed (None) while the window was not focused: say so."""
        if self.isActiveWindow():
            return
        where = short_path(self.workspace.model_dir or "")
        if finished is None:
            self.notifier.notify("ckptgui: training failed", f"{where}: the window says why", failed=True)
        else:
            verb = "stopped" if finished.stopped else "finished"
            self.notifier.notify(f"ckptgui: training {verb}", f"{where} reached step {finished.step:,}")

    def quit_without_asking(self) -> None:
        """Close as a signal asks (SIGTERM, Ctrl-C): a run stops with a final checkpoint first; every temporary
        model_dir is kept and no question is asked (nobody may be there to answer)."""
        self._leftovers_answered = True
        if self.training_controller.session is not None:
            self.training_controller.stop_to_close()
        else:
            self.close()

    @Slot()
    def _training_ended(self) -> None:
        if self.training_controller.close_after_stop:
            self.close()

    @Slot()
    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Last resort when the application quits with training still running: stop and wait (blocking).

        Connected to ``QApplication.aboutToQuit`` (napari's habit), so worker threads never outlive the window.
        """
        session = self.training_controller.session
        if session is not None:
            session.stop()
            session.wait(timeout_ms)
        self.pool.waitForDone(timeout_ms)


def _start_refusal(config: ConfigForm, elsewhere: Holder | None) -> str | None:
    """Why Start cannot run now (invalid fields, or another process trains in the model_dir), or None."""
    if not config.valid:
        return f"Cannot start: {config.problems()}"
    if elsewhere is not None:
        return f"Cannot start: {elsewhere.describe()} trains in this model_dir"
    return None
