"""The window's state: the open model_dir, its latest snapshot, the run spec of its run log, selection, training."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ckptgui.modeldir.config import RunSpec
from ckptgui.modeldir.records import LedgerReader, RunLogError, read_run_log
from ckptgui.modeldir.scan import CheckpointInfo
from ckptgui.modeldir.snapshot import Snapshot, take_snapshot
from ckptgui.storage import expand_path, scheme_of
from ckptgui.workspace.emitter import Emitter


@dataclass(frozen=True)
class Appeared:
    """A checkpoint seen for the first time: its step, its file time, and when the workspace learned of it."""

    step: int
    mtime: float
    seen_at: float  # time.time()


def normalize_model_dir(text: str | None) -> str | None:
    """The absolute, resolved form of a typed model_dir (a URL without its trailing ``/``); None for nothing typed."""
    text = (text or "").strip()
    if not text:
        return None
    return expand_path(text) if scheme_of(text) else str(Path(text).expanduser().resolve())


class Workspace:
    """What the window shows. Changed on the GUI thread only; each change emits the matching event.

    Events (callbacks' arguments in brackets): ``model_dir_changed`` [path or
    None], ``snapshot_changed`` [Snapshot], ``checkpoints_appeared`` [list of
    Appeared], ``selection_changed`` [prefix or None], ``run_spec_changed``
    [RunSpec or None], ``training_changed`` [bool].
    """

    def __init__(self) -> None:
        self.model_dir: str | None = None
        self.snapshot: Snapshot | None = None
        self.run_spec: RunSpec | None = None
        self.run_data: dict = {}  # the run log's description of the data (source, rows, sha256), never read data
        self.selected_prefix: str | None = None
        self.training = False
        self.seen_steps: set[int] = set()
        self.swept_steps: set[int] = set()
        self._known: dict[str, CheckpointInfo] = {}  # by prefix, from the last snapshot whose scan succeeded
        # The model_dir with the incremental reader of its ledger, replaced as one value: a look on a worker
        # thread reads both at once, so it never pairs a new model_dir with the previous one's ledger.
        self._target: tuple[str, LedgerReader] | None = None
        self.model_dir_changed = Emitter()
        self.snapshot_changed = Emitter()
        self.checkpoints_appeared = Emitter()
        self.selection_changed = Emitter()
        self.run_spec_changed = Emitter()
        self.training_changed = Emitter()

    # The model_dir -------------------------------------------------------------------------------
    def set_model_dir(self, path: str | None) -> bool:
        """Open ``path`` (typed text is resolved; None closes); forgets what was known of the previous one.

        Returns False when ``path`` is the model_dir already open (nothing emitted).
        """
        path = normalize_model_dir(path)
        if path == self.model_dir:
            return False
        self.model_dir = path
        self.snapshot = None
        self.run_spec = None
        self.run_data = {}
        self.selected_prefix = None
        self.seen_steps.clear()
        self.swept_steps.clear()
        self._known.clear()
        self._target = (path, LedgerReader(path)) if path else None
        self.model_dir_changed.emit(path)
        return True

    def load_run_spec(self) -> str:
        """Read the run spec the model_dir's run log recorded (``run_spec_changed``); returns a note, "" if none."""
        if self.model_dir is None:
            return ""
        try:
            log = read_run_log(self.model_dir)
        except RunLogError as exc:
            return str(exc)
        if log is None or log.spec is None:
            if log is not None and log.spec_problem:
                return f"The run log's config is not usable here ({log.spec_problem}); keeping the form as it is"
            return ""
        self.run_spec, self.run_data = log.spec, log.data
        self.run_spec_changed.emit(log.spec)
        return ""

    # Snapshots -----------------------------------------------------------------------------------
    def look(self) -> Snapshot | None:
        """One look at the model_dir (``take_snapshot``): for a worker thread, one look at a time.

        None when there is no model_dir or nothing changed since the last applied snapshot.
        Pass the result to :meth:`apply_snapshot` on the GUI thread.
        """
        target, snapshot = self._target, self.snapshot
        if target is None:
            return None
        path, ledger = target
        previous = snapshot.files if snapshot is not None and snapshot.path == path else None
        return take_snapshot(path, previous, ledger)

    def apply_snapshot(self, snapshot: Snapshot | None) -> None:
        """Take a look's result; one made for a model_dir no longer open is dropped.

        A checkpoint that was listed and is gone counts as swept; steps seen
        again are no longer swept. When the scan failed, what was known of the
        checkpoints stays as it was.
        """
        if snapshot is None or snapshot.path != self.model_dir:
            return
        self.snapshot = snapshot
        appeared: list[Appeared] = []
        if snapshot.info is not None:
            now = time.time()
            current = {checkpoint.prefix: checkpoint for checkpoint in snapshot.info.checkpoints}
            for prefix, gone in self._known.items():
                if prefix not in current and gone.step is not None and gone.step >= 0:
                    self.swept_steps.add(gone.step)
            for prefix, checkpoint in current.items():
                if prefix not in self._known and checkpoint.step is not None:
                    appeared.append(Appeared(checkpoint.step, checkpoint.mtime, now))
                    self.seen_steps.add(checkpoint.step)
                    self.swept_steps.discard(checkpoint.step)
            self._known = current
            if self.selected_prefix is not None and self.selected_prefix not in current:
                self.select(None)
        self.snapshot_changed.emit(snapshot)
        if appeared:  # after the views showed the snapshot: a listener times how soon a checkpoint is on screen
            self.checkpoints_appeared.emit(appeared)

    def steps(self) -> list[int]:
        """The checkpoint steps now listed, ascending."""
        return sorted(self.seen_steps - self.swept_steps)

    def checkpoints(self) -> list[CheckpointInfo]:
        """Every checkpoint of the latest snapshot, oldest first; empty when its scan failed."""
        info = self.snapshot.info if self.snapshot else None
        return list(info.checkpoints) if info is not None else []

    # Selection and training ----------------------------------------------------------------------
    def select(self, prefix: str | None) -> None:
        """The checkpoint chosen in the directory view (for restore, compare); None: nothing chosen."""
        if prefix != self.selected_prefix:
            self.selected_prefix = prefix
            self.selection_changed.emit(prefix)

    def set_training(self, training: bool) -> None:
        if training != self.training:
            self.training = training
            self.training_changed.emit(training)
