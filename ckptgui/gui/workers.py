"""Work off the GUI thread: one-shot tasks on a thread pool and the training worker on its own QThread.

Habits taken from Orange3's ``ConcurrentMixin`` (starting a task makes the
previous one stale: its result never arrives) and superqt's ``GeneratorWorker``
(the work is a plain generator; each ``yield`` is a point where stop/pause take
effect, so the worker body has no Qt in it). Every failure becomes a
``failed(message, detail)`` signal that the main window routes to its one error
reporter.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, QTimer, Signal, Slot

from ckptgui.gui import engine
from ckptgui.modeldir.config import RunSpec
from ckptgui.modeldir.data import Dataset

if TYPE_CHECKING:
    from ckptgui.gui.engine import Trainer


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """A one-line message for the status bar and the full traceback for the dialog's details."""
    message = str(exc) or type(exc).__name__
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return message, detail


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted on it from a pool thread arrive queued."""

    finished = Signal(int, object)
    failed = Signal(int, object)


class _Job(QRunnable):
    def __init__(self, relay: _Relay, token: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._relay = relay
        self._token = token
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - every failure is delivered to the GUI as a signal
            self._deliver(self._relay.failed, exc)
        else:
            self._deliver(self._relay.finished, result)

    def _deliver(self, signal: Any, value: object) -> None:
        # The widget that asked may have been closed and deleted meanwhile; its result is then simply dropped.
        with contextlib.suppress(RuntimeError):
            signal.emit(self._token, value)


class Task(QObject):
    """One background job at a time for one widget; a newer ``start`` makes older results stale.

    ``finished(result)`` and ``failed(message, detail)`` arrive on the GUI
    thread. ``coalesce`` lets a caller ask for a rerun while a job is running
    (file-system bursts): the rerun starts once, after the running job ends.
    """

    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(
        self,
        pool: QThreadPool,
        parent: QObject | None = None,
        on_finished: Callable[[Any], Any] | None = None,
        on_failed: Callable[[str, str], Any] | None = None,
    ) -> None:
        super().__init__(parent)
        if on_finished is not None:
            self.finished.connect(on_finished)
        if on_failed is not None:
            self.failed.connect(on_failed)
        self._pool = pool
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._token = 0
        self._running: int | None = None
        self._queued: Callable[[], Any] | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    def start(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` on the pool; any result still pending from an earlier start is dropped."""
        self._queued = None
        self._token += 1
        self._launch(lambda: fn(*args, **kwargs))

    def coalesce(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Like ``start``, but while a job runs only remember to run once more when it ends."""
        job = lambda: fn(*args, **kwargs)  # noqa: E731 - kept until the running job ends
        if self.busy:
            self._queued = job
        else:
            self._launch(job)

    def cancel(self) -> None:
        """Drop the result of whatever is running (it cannot be interrupted, only ignored)."""
        self._queued = None
        self._token += 1
        self._running = None

    def _launch(self, job: Callable[[], Any]) -> None:
        self._running = self._token
        self._pool.start(_Job(self._relay, self._token, job))

    def _done(self, token: int) -> bool:
        """True when the result of ``token`` is current; then starts a queued rerun, if any."""
        if token != self._token:
            return False
        self._running = None
        if self._queued is not None:
            job, self._queued = self._queued, None
            self._launch(job)
        return True

    @Slot(int, object)
    def _on_finished(self, token: int, result: object) -> None:
        if self._done(token):
            self.finished.emit(result)

    @Slot(int, object)
    def _on_failed(self, token: int, exc: object) -> None:
        if self._done(token):
            assert isinstance(exc, BaseException)
            self.failed.emit(*describe_exception(exc))


class TrainWorker(QObject):
    """Runs ``Trainer(spec, dataset=…).events()`` on a QThread and forwards its events to the GUI thread.

    Progress, checkpoint and evaluation events come at the trainer's pace (a
    hundred or more a second at full speed, each costing the GUI thread Python
    time and so the trainer GIL time); only the latest of each kind is sent, at
    most once per ``interval`` seconds. Every other event (Started, Paused,
    Resumed, Finished, Failed) is sent at once, after the pending ones, so the
    order the GUI sees is the trainer's. stop/pause/resume are
    called from the GUI thread straight on the trainer (they are thread-safe
    and cooperative); a stop requested before the trainer exists is applied
    as soon as it does.
    """

    started = Signal(object)  # the Trainer, once constructed
    event = Signal(object)  # every engine event but Progress, in order
    progress = Signal(object)  # the latest Progress, throttled
    failed = Signal(str, str, object)  # message, detail, the exception (IncompatibleCheckpointError carries .report)
    done = Signal()

    def __init__(
        self, spec: RunSpec, warm_start_from: str | None, dataset: Dataset | None, interval: float = 0.1
    ) -> None:
        super().__init__()
        self._spec = spec
        self._warm_start_from = warm_start_from
        self._dataset = dataset
        self._interval = interval
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._stop_requested = False

    @Slot()
    def run(self) -> None:
        training = engine.training()
        frequent = (training.Progress, training.CheckpointSaved, training.CheckpointDeleted, training.Evaluated)
        pending: dict[type, object] = {}  # the latest frequent event of each kind, not yet sent
        last_emit = 0.0

        def flush() -> None:
            progress = pending.pop(training.Progress, None)
            if progress is not None:
                self.progress.emit(progress)
            for latest in pending.values():
                self.event.emit(latest)
            pending.clear()

        try:
            trainer = engine.new_trainer(self._spec, self._warm_start_from, self._dataset)
            with self._lock:
                self._trainer = trainer
                stop_now = self._stop_requested
            if stop_now:
                trainer.stop()
            self.started.emit(trainer)
            for ev in trainer.events():
                if isinstance(ev, frequent):
                    pending[type(ev)] = ev
                    now = time.monotonic()
                    if now - last_emit >= self._interval:
                        flush()
                        last_emit = now
                    continue
                flush()
                self.event.emit(ev)
        except Exception as exc:  # noqa: BLE001 - ConfigError, DataError, IncompatibleCheckpointError, bugs: all shown
            flush()
            self.failed.emit(*describe_exception(exc), exc)
        finally:
            self.done.emit()

    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            trainer = self._trainer
        if trainer is not None:
            trainer.stop()

    def pause(self) -> None:
        with self._lock:
            trainer = self._trainer
        if trainer is not None:
            trainer.pause()

    def resume(self) -> None:
        with self._lock:
            trainer = self._trainer
        if trainer is not None:
            trainer.resume()


class TrainingSession(QObject):
    """Owns the QThread and the TrainWorker of one training run; the window holds at most one.

    ``finished`` is emitted once the worker's thread has ended, so a new session
    can start right after it.
    """

    started = Signal(object)
    event = Signal(object)
    progress = Signal(object)
    failed = Signal(str, str, object)
    finished = Signal()

    def __init__(
        self, spec: RunSpec, warm_start_from: str | None, dataset: Dataset | None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self.trainer: Trainer | None = None
        self.paused = False
        self.stopping = False
        self._thread = QThread()
        self._thread.setObjectName("ckptgui-train")
        self._worker = TrainWorker(spec, warm_start_from, dataset)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.started.connect(self._on_started)
        self._worker.event.connect(self.event)
        self._worker.progress.connect(self.progress)
        self._worker.failed.connect(self.failed)
        # Direct: QThread.quit is thread-safe, and a queued call would wait for a GUI thread blocked in wait().
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping = True
        self._worker.stop()

    def pause(self) -> None:
        self.paused = True
        self._worker.pause()

    def resume(self) -> None:
        self.paused = False
        self._worker.resume()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the worker thread ends (after ``stop``); True when it did."""
        return self._thread.wait(timeout_ms)

    @Slot(object)
    def _on_started(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.started.emit(trainer)

    @Slot()
    def _on_thread_finished(self) -> None:
        self.finished.emit()


class MainThreadGarbageCollector(QObject):
    """While it lives, Python's cyclic garbage collection runs only on the GUI thread, on a timer.

    Left automatic, a collection can start in whichever thread allocates — the
    training thread or a pool thread — and free Qt wrappers there: Qt then
    destroys objects of the GUI thread from the wrong thread, and with the GIL
    and a Qt mutex taken in opposite orders the process deadlocks (seen in
    the test suite: the trainer in ``QObject::~QObject`` waiting for the GIL,
    the GUI thread holding the GIL waiting for the Qt mutex). pyqtgraph's
    ``GarbageCollector`` does the same; this one gives automatic collection
    back when stopped.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._threshold = gc.get_threshold()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    @Slot()
    def collect(self) -> None:
        """Collect the generations whose counts passed Python's own thresholds, as automatic GC would."""
        counts = gc.get_count()
        generation = -1
        for level, (count, threshold) in enumerate(zip(counts, self._threshold, strict=True)):
            if count > threshold:
                generation = level
        if generation >= 0:
            gc.collect(generation)

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
