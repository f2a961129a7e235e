"""Start, pause and stop training from the window: the checks before a run, the incompatible-checkpoint dialog,
and the run's events turned into workspace, plot and status updates on the GUI thread.

The dataset is loaded by the form, off the GUI thread (on Start when opening
the folder deferred it): the form's loaded Dataset goes to ``preflight`` and
to the Trainer, so nothing on the GUI thread loads data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from ckptgui.gui import engine
from ckptgui.gui.widgets.compat_dialog import ADOPT, NEW_DIR, WARM_START, IncompatibleDialog
from ckptgui.gui.widgets.config_form import ConfigForm
from ckptgui.gui.widgets.directory_view import DirectoryView
from ckptgui.gui.widgets.new_dir_dialog import NewDirDialog, ask_new_dir, default_new_dir
from ckptgui.gui.widgets.plots import PlotPanel
from ckptgui.gui.widgets.train_controls import TrainControls
from ckptgui.gui.workers import TrainingSession, describe_exception
from ckptgui.modeldir.compat import CompatReport
from ckptgui.modeldir.config import RunSpec
from ckptgui.modeldir.lock import Holder, lock_holder
from ckptgui.modeldir.records import RunLogError, read_run_log
from ckptgui.modeldir.scan import CheckpointError, locate, scan
from ckptgui.modeldir.variables import list_variables
from ckptgui.workspace.model import Workspace, normalize_model_dir

if TYPE_CHECKING:
    from ckptgui.gui.engine import Progress

STATUS_MS = 8000


def short_path(path: str) -> str:
    """``path`` with the home folder written as ``~``."""
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + "/") else path


def open_or_none(dialog: QWidget | None) -> QWidget | None:
    """``dialog`` while it is on screen; None once closed, or already deleted by Qt."""
    try:
        return dialog if dialog is not None and dialog.isVisible() else None
    except RuntimeError:
        return None


class TrainingController(QObject):
    """Owns the window's one training session at most; ``changed`` asks the window to update its actions."""

    started = Signal(object)  # the Started event
    finished = Signal(object)  # the Finished event, or None when the run failed
    changed = Signal()  # a session began, ended, paused, resumed or is stopping
    ended = Signal()  # the session's thread ended (after ``finished``)
    status = Signal(str, int)  # text, milliseconds shown (0: until replaced)
    failed = Signal(str, str, str)  # message, detail, title

    def __init__(
        self,
        parent: QWidget,
        workspace: Workspace,
        config: ConfigForm,
        plots: PlotPanel,
        directory: DirectoryView,
        controls: TrainControls,
        engine_ready: Callable[[], bool],
        remember_spec: Callable[[RunSpec], None],
    ) -> None:
        super().__init__(parent)
        self._dialog_parent = parent
        self.workspace = workspace
        self.config = config
        self.plots = plots
        self.directory = directory
        self.controls = controls
        self._engine_ready = engine_ready
        self._remember_spec = remember_spec
        self.session: TrainingSession | None = None
        self.close_after_stop = False  # the window closes once this session ends
        self._incompatible: IncompatibleDialog | None = None
        self._close_box: QMessageBox | None = None
        self._foreign_box: QMessageBox | None = None
        self._new_dir: NewDirDialog | None = None
        self._save_note: tuple[int, str] = (-1, "")  # the last save's step and note (a damaged pins file)

    @property
    def incompatible_dialog(self) -> IncompatibleDialog | None:
        return open_or_none(self._incompatible)

    @property
    def foreign_dialog(self) -> QMessageBox | None:
        return open_or_none(self._foreign_box)

    @property
    def new_dir_dialog(self) -> NewDirDialog | None:
        return open_or_none(self._new_dir)

    # Starting ------------------------------------------------------------------------------------
    def trainer_elsewhere(self) -> Holder | None:
        """Who trains in the form's model_dir in another process (or another session), if anyone: Start would fail."""
        if self.session is not None:
            return None
        model_dir = normalize_model_dir(self.config.model_dir_text())
        return lock_holder(model_dir) if model_dir else None

    @Slot()
    def start(self, into_foreign: bool = False) -> None:
        """Start the form's config; a resumable checkpoint that does not fit it opens the incompatible dialog.

        A folder with checkpoints that ckptgui did not write (Estimator's, anyone's) is asked about first
        (``into_foreign`` is the answer "train into it anyway")."""
        if self.session is not None:
            return
        holder = self.trainer_elsewhere()
        if holder is not None:
            self.status.emit(f"Cannot start: training elsewhere, by {holder.describe()}", STATUS_MS)
            return
        if not self.config.valid:
            self.status.emit(f"Cannot start: {self.config.problems()}", STATUS_MS)
            return
        if self.config.load_then(lambda: self.start(into_foreign)):  # data deferred at the folder's opening
            self.status.emit("Loading the data before training…", 0)
            return
        dataset = self.config.dataset
        if dataset is None:
            self.status.emit(f"Cannot start: {self.config.problems()}", STATUS_MS)
            return
        spec = self.config.spec()
        if spec.model_dir is None:
            spec.model_dir = self.config.use_new_temporary_dir()
        else:
            self.config.apply_model_dir()
        if not into_foreign:
            foreign = _foreign_checkpoint(spec.model_dir)
            if foreign is not None:
                self._ask_foreign(spec, foreign)
                return
        if not self._engine_ready():
            return
        try:
            report = engine.preflight(spec, dataset)
        except Exception as exc:  # noqa: BLE001 - damaged checkpoints, unreadable data: say so, do not start
            self.failed.emit(*describe_exception(exc), "Cannot start training")
            return
        if report is not None and not report.compatible:
            self._ask_incompatible(spec, report)
            return
        self._launch(spec)

    def _ask_foreign(self, spec: RunSpec, prefix: str) -> None:
        """Ask before writing ckptgui checkpoints beside another program's (and rewriting its state file)."""
        model_dir = spec.model_dir or ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Not a ckptgui model_dir",
            f"<b>{model_dir}</b> holds checkpoints that ckptgui did not write (it has no ckptgui_run.json). "
            "Training into it would write ckptgui checkpoints beside them and rewrite its <i>checkpoint</i> file.",
            QMessageBox.StandardButton.NoButton,
            self._dialog_parent,
        )
        box.setObjectName("foreignDialog")
        box.setInformativeText(
            f"Start a new model_dir whose variables are copied from {Path(prefix).name}, leaving this folder untouched?"
        )
        self.warm_button = box.addButton("New model_dir warm-started from it…", QMessageBox.ButtonRole.AcceptRole)
        self.into_button = box.addButton("Train into this folder", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.warm_button)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)

        def answered(button: object) -> None:
            if button is self.warm_button:
                self._train_in_new_dir(spec, prefix, "ckptgui", "warm-started from")
            elif button is self.into_button:
                QTimer.singleShot(0, lambda: self.start(into_foreign=True))
            else:
                self.status.emit("Training not started", STATUS_MS)

        box.buttonClicked.connect(answered)
        box.finished.connect(box.deleteLater)
        self._foreign_box = box
        box.open()

    def _train_in_new_dir(self, spec: RunSpec, warm_start_from: str | None, suffix: str, how: str) -> None:
        """Ask where the new model_dir goes (beside the source by default), then train there."""
        source = spec.model_dir or ""
        what = f"{how} {Path(warm_start_from).name} of {source}" if warm_start_from else f"instead of {source}"
        self._new_dir = ask_new_dir(
            self._dialog_parent,
            "New model_dir",
            f"Train in a new model_dir, {what}. Where should it go?",
            default_new_dir(source, suffix),
            lambda path: self._launch_in(spec, path, warm_start_from),
        )

    def _launch_in(self, spec: RunSpec, new_dir: str, warm_start_from: str | None) -> None:
        self._new_dir = None
        spec.model_dir = new_dir
        Path(new_dir).mkdir(parents=True, exist_ok=True)
        self.workspace.set_model_dir(new_dir)
        self._launch(spec, warm_start_from=warm_start_from)

    def _ask_incompatible(self, spec: RunSpec, report: CompatReport) -> None:
        dataset = self.config.dataset
        n_features = dataset.n_features if dataset else 0
        try:
            shapes = {v.name: v.shape for v in list_variables(locate(report.prefix))}
        except (CheckpointError, OSError):
            shapes = {}  # the table then shows the mismatches only
        dialog = IncompatibleDialog(report, spec.model_dir or "", n_features, shapes, self._dialog_parent)
        dialog.setObjectName("incompatibleDialog")
        dialog.chosen.connect(lambda choice: self._incompatible_chosen(choice, spec, report))
        dialog.finished.connect(dialog.deleteLater)
        self._incompatible = dialog
        dialog.open()

    def _incompatible_chosen(self, choice: str, spec: RunSpec, report: CompatReport) -> None:
        self._incompatible = None
        if choice == NEW_DIR:
            self._train_in_new_dir(spec, None, "new", "")
        elif choice == WARM_START:
            self._train_in_new_dir(spec, report.prefix, "warm", "warm-started from")
        elif choice == ADOPT:
            self.status.emit(self.config.adopt_network(report.checkpoint_network), STATUS_MS)
            # Checks again (the data may still not fit); a foreign folder was already asked about, or is ours.
            QTimer.singleShot(0, lambda: self.start(into_foreign=True))
        else:
            self.status.emit("Training not started: the checkpoint does not fit the config", STATUS_MS)

    def _launch(self, spec: RunSpec, warm_start_from: str | None = None) -> None:
        self._remember_spec(spec)
        session = TrainingSession(spec, warm_start_from, self.config.dataset, self)
        session.event.connect(self._on_event)
        session.progress.connect(self._on_progress)
        session.failed.connect(self._on_failed)
        session.finished.connect(self._on_session_finished)
        self.session = session
        self.config.setEnabled(False)
        self.plots.set_training((0, spec.network.steps))
        self.workspace.set_training(True)
        self.controls.begin(0, spec.network.steps)
        self.status.emit(f"Preparing to train into {short_path(spec.model_dir or '')}…", 0)
        self.changed.emit()
        session.start()

    # Pause and stop ------------------------------------------------------------------------------
    @Slot()
    def toggle_pause(self) -> None:
        if self.session is None or self.session.stopping:
            return
        if self.session.paused:
            self.session.resume()
            self.status.emit("Resuming…", 0)
        else:
            self.session.pause()
            self.status.emit("Pausing after the current chunk of steps…", 0)
        self.changed.emit()

    @Slot()
    def stop(self) -> None:
        if self.session is None or self.session.stopping:
            return
        self.session.stop()
        self.status.emit("Stopping: writing a final checkpoint…", 0)
        self.changed.emit()

    # Closing the window while training -----------------------------------------------------------
    def ask_stop_to_close(self) -> None:
        """Ask whether to stop and close; on Yes, stop, and the window closes when the session ``ended``."""
        if self.close_after_stop:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Training is running",
            "Stop training and close? A final checkpoint is written first.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self._dialog_parent,
        )
        box.setObjectName("closeDialog")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(box.deleteLater)
        box.buttonClicked.connect(
            lambda button: (
                self.stop_to_close() if box.standardButton(button) == QMessageBox.StandardButton.Yes else None
            )
        )
        self._close_box = box
        box.open()

    @property
    def close_dialog(self) -> QMessageBox | None:
        return open_or_none(self._close_box)

    @Slot()
    def stop_to_close(self) -> None:
        """Stop the run; the window closes once its final checkpoint is written (``close_after_stop``)."""
        if self.close_after_stop:
            return
        self.close_after_stop = True
        self.stop()
        self.status.emit("Stopping: the window closes once the final checkpoint is written…", 0)

    # The run's events, on the GUI thread ---------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: object) -> None:
        t = engine.training()
        if isinstance(event, t.Started):
            self.controls.begin(event.start_step, event.target_step)
            self.plots.set_training((0, event.target_step))
            resumed = f", resumed from {Path(event.resumed_from).name}" if event.resumed_from else ""
            self.status.emit(f"Training steps {event.start_step:,} → {event.target_step:,}{resumed}", 0)
            for note in event.notes:
                self.status.emit(note, STATUS_MS)
            self.started.emit(event)
        elif isinstance(event, t.CheckpointSaved | t.CheckpointDeleted):
            self.directory.poke()  # the watcher sees it too; one debounced look serves both
            if isinstance(event, t.CheckpointSaved):
                self._save_note = (event.step, event.note)
                if event.note:
                    self.status.emit(f"Step {event.step:,}: checkpoint saved; note: {event.note}", 0)
        elif isinstance(event, t.Evaluated):
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(event.metrics.items()))
            step, note = self._save_note
            noted = f"; note: {note}" if note and step == event.step else ""  # the save's note stays in view
            self.status.emit(f"Step {event.step:,}: checkpoint saved; eval {metrics}{noted}", 0)
        elif isinstance(event, t.Paused):
            self.controls.end(event.step, "paused")
            self.status.emit(f"Paused at step {event.step:,}", 0)
        elif isinstance(event, t.Resumed):
            self.status.emit(f"Resumed at step {event.step:,}", 0)
        elif isinstance(event, t.Finished):
            self.controls.end(event.step, "stopped" if event.stopped else "finished")
            self.status.emit(f"Training {'stopped' if event.stopped else 'finished'} at step {event.step:,}", STATUS_MS)
            self.finished.emit(event)
        elif isinstance(event, t.Failed):
            self._on_failed(event.message, event.detail, None)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if self.session is not None and self.session.paused:
            return
        self.controls.show_progress(progress.step, progress.target_step, progress.steps_per_sec, progress.elapsed)

    @Slot(str, str, object)
    def _on_failed(self, message: str, detail: str, exc: object) -> None:
        self.controls.end(self.controls.bar.value(), "failed")
        if isinstance(exc, engine.training().IncompatibleCheckpointError) and self.session is not None:
            spec = self.session.spec
            QTimer.singleShot(0, lambda: self._ask_incompatible(spec, exc.report))
            return
        self.failed.emit(message, detail, "Training failed")
        self.finished.emit(None)

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
        self.changed.emit()
        self.ended.emit()


def _foreign_checkpoint(model_dir: str | None) -> str | None:
    """The newest checkpoint of a folder ckptgui did not write (checkpoints, no run log); None otherwise."""
    if not model_dir:
        return None
    try:
        if read_run_log(model_dir) is not None:
            return None
        chosen = scan(model_dir).restore_checkpoint
    except (OSError, RunLogError, CheckpointError):
        return None  # unreadable: preflight says why
    return chosen.prefix if chosen is not None else None
