"""The training engine: Estimator's checkpoint behaviour rebuilt on ``tf.train.Checkpoint``.

A :class:`Trainer` trains in the caller's thread and reports what happens as
plain event objects (no Qt). The steps between schedule boundaries run in
:class:`ckptgui.engine.loop.CompiledLoop`; a resume or warm start restores
through :func:`ckptgui.engine.restore.load_weights`.

Checkpoints are written as ``model.ckpt-<global_step>`` with
``Checkpoint.write``; the ``checkpoint`` state file and the sweep of old
checkpoints are :class:`ckptgui.modeldir.retention.Retention`'s, not
``tf.train.CheckpointManager``'s: the manager sweeps checkpoints it did not
write (tensorflow#34234), while retention only ever deletes checkpoints our
own runs wrote (recorded in ``ckptgui_written.txt``) and never pinned ones.

Under a ``tf.distribute`` strategy (:mod:`ckptgui.engine.distribute`) the model_dir is written exactly as on
one device; under ``multi_worker`` only the chief writes it, and the other workers follow the same schedule
(the same chunks of steps, whose collectives must match) without writing anything.

A model_dir in a bucket is written where :func:`ckptgui.engine.bucket.training_dir` says: a ``gs://`` one
straight through TensorFlow's GCS file system (and the storage seam for ckptgui's own files), any other into a
local staging folder that :class:`ckptgui.modeldir.mirror.Mirror` uploads after each checkpoint.
"""

from __future__ import annotations

import math
import os
import platform
import re
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import tensorflow as tf

import ckptgui
from ckptgui.engine import inference
from ckptgui.engine.bucket import lost_connection, training_dir
from ckptgui.engine.distribute import distribution_for
from ckptgui.engine.inference import first_layer_order
from ckptgui.engine.loop import MAX_CHUNK_STEPS, CompiledLoop, Summaries
from ckptgui.engine.model import Classifier
from ckptgui.engine.restore import load_weights
from ckptgui.formats.statefile import STATE_FILENAME, StateFileError, read_state
from ckptgui.modeldir import compat
from ckptgui.modeldir.cleanup import cannot_open
from ckptgui.modeldir.config import ConfigError, RunSpec
from ckptgui.modeldir.data import Dataset, load_dataset
from ckptgui.modeldir.layout import EVENTS_PREFIX
from ckptgui.modeldir.lock import ModelDirLock, ModelDirLocked
from ckptgui.modeldir.mirror import Mirror
from ckptgui.modeldir.records import RunLog, RunLogError, read_pins, read_run_log, write_run_log
from ckptgui.modeldir.retention import Retention, checkpoint_prefix, checkpoints_on_disk, resolve
from ckptgui.modeldir.scan import CheckpointError, locate
from ckptgui.storage import StorageError, name_of, scheme_of, storage_for

# What a collective op raises when a peer worker died (Unavailable: within ~1 s) or froze (missed heartbeats).
LOST_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
)
RESTART_ADVICE = "Start all workers again: the job resumes from the last checkpoint."
# The peer TensorFlow names in a collective's error, e.g. "from remote target /job:worker/replica:0/task:1".
_PEER = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


class TrainingError(RuntimeError):
    """Training cannot start or go on; the message says why in words a user can act on."""


class IncompatibleCheckpointError(TrainingError):
    """The model_dir's checkpoint does not fit the network config; ``report`` says how."""

    def __init__(self, report: compat.CompatReport, prefix: str) -> None:
        super().__init__(
            f"the checkpoint {prefix} does not fit this network config; nothing was written.\n{report.message()}"
        )
        self.report = report
        self.prefix = prefix


# Events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    model_dir: str
    start_step: int
    target_step: int
    resumed_from: str | None
    notes: tuple[str, ...] = ()  # e.g. "latest checkpoint is corrupt; resumed from model.ckpt-500"


@dataclass(frozen=True)
class Progress:
    step: int
    target_step: int
    loss: float
    accuracy: float
    steps_per_sec: float
    elapsed: float


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    prefix: str
    note: str = ""  # e.g. why retention swept nothing this time (a damaged pins file)


@dataclass(frozen=True)
class CheckpointDeleted:
    step: int
    prefix: str


@dataclass(frozen=True)
class Evaluated:
    step: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Finished:
    step: int
    stopped: bool


@dataclass(frozen=True)
class Failed:
    message: str
    detail: str


TrainEvent = Started | Progress | CheckpointSaved | CheckpointDeleted | Evaluated | Paused | Resumed | Finished | Failed


# Model dir helpers ----------------------------------------------------------------------------------


def prepare_model_dir(model_dir: str | None) -> Path:
    """The directory to train into: created if needed, a fresh temporary one when None (as Estimator)."""
    if model_dir is None:
        return Path(tempfile.mkdtemp(prefix="ckptgui-"))
    path = Path(model_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError("model_dir", f"{str(path)!r} is a file; expected a directory (existing or new)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("model_dir", f"{str(path)!r} cannot be created ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError("model_dir", f"{str(path)!r} is not writable; choose a directory you can write to")
    return path


def resume_candidates(model_dir: str | os.PathLike) -> tuple[list[str], str | None]:
    """Checkpoints to resume from, best first, and a note when the state file could not be used.

    The state file's latest comes first, then the others it lists, newest first
    (as Estimator, unlisted checkpoints are not resumed). When the state file is
    damaged, the checkpoints on disk are taken by step instead, and the note says so.
    """
    try:
        state = read_state(model_dir)
    except OSError as exc:  # a directory in its place, EACCES, EIO: not damage to step over, a file to fix
        path = storage_for(model_dir).join(str(model_dir), STATE_FILENAME)
        raise RunLogError(f"{path}: cannot be read ({exc.strerror or exc}); fix it or move it aside") from None
    except StateFileError as exc:
        on_disk = checkpoints_on_disk(model_dir)
        note = f"the `checkpoint` state file is damaged ({exc}); resuming from the newest checkpoint on disk"
        return list(reversed(on_disk)), note if on_disk else None
    if state is None:
        return [], None
    ordered = [state.model_checkpoint_path, *reversed(state.all_model_checkpoint_paths)]
    seen: list[str] = []
    storage = storage_for(model_dir)
    for path in ordered:
        prefix = resolve(model_dir, path)
        if prefix not in seen and storage.info(f"{prefix}.index") is not None:
            seen.append(prefix)
    return seen, None


def _network_shapes(spec: RunSpec, dataset: Dataset) -> tuple[int, int]:
    return dataset.n_features, spec.network.n_classes or dataset.n_classes


def preflight(spec: RunSpec, dataset: Dataset | None = None) -> compat.CompatReport | None:
    """The compatibility report for resuming ``spec.model_dir``; None when there is nothing to resume.

    Pass the ``dataset`` already loaded for ``spec.data`` (the window's form holds one) so it is not loaded again.
    """
    if spec.model_dir is None or not Path(spec.model_dir).is_dir():
        return None
    candidates, _ = resume_candidates(spec.model_dir)
    if not candidates:
        return None
    dataset = dataset or load_dataset(spec.data, spec.network.n_classes)
    n_features, n_classes = _network_shapes(spec, dataset)
    return compat.check(spec.network, n_features, n_classes, str(candidates[0]))


# The trainer ----------------------------------------------------------------------------------------


@dataclass
class _Schedule:
    """Where the next boundaries are; kept apart from the loop so the arithmetic is testable."""

    summary_every: int
    checkpoint_every_steps: int | None
    checkpoint_every_secs: float | None
    last_save_step: int = 0
    last_save_time: float = field(default_factory=time.monotonic)

    def next_boundary(self, step: int, target: int) -> int:
        bounds = [target, step + MAX_CHUNK_STEPS, (step // self.summary_every + 1) * self.summary_every]
        if self.checkpoint_every_steps:
            bounds.append((step // self.checkpoint_every_steps + 1) * self.checkpoint_every_steps)
        return min(bounds)

    def checkpoint_expected(self, boundary: int, target: int) -> bool:
        """Whether a checkpoint will be written at ``boundary`` (so the chunk should evaluate too)."""
        if boundary == target:
            return True
        if self.checkpoint_every_steps:
            return boundary % self.checkpoint_every_steps == 0
        return time.monotonic() - self.last_save_time >= (self.checkpoint_every_secs or 0)

    def checkpoint_due(self, step: int) -> bool:
        if step == self.last_save_step:
            return False
        if self.checkpoint_every_steps:
            return step % self.checkpoint_every_steps == 0
        return time.monotonic() - self.last_save_time >= (self.checkpoint_every_secs or 0)


class Trainer:
    """Trains ``spec`` in the caller's thread; ``stop``/``pause``/``resume`` are safe from any thread."""

    def __init__(self, spec: RunSpec, warm_start_from: str | None = None, dataset: Dataset | None = None) -> None:
        self.spec = spec
        # First, before any other TensorFlow op: a CPU split or a multi-worker cluster can only be set up then.
        self.distribution = distribution_for(spec.distribution, spec.devices)
        replicas = self.distribution.replicas
        if spec.network.batch_size % replicas:
            raise ConfigError(
                "batch_size",
                f"{spec.network.batch_size} does not split evenly over {replicas} replicas; "
                f"use a multiple of {replicas}",
            )
        self.dataset = dataset or load_dataset(spec.data, spec.network.n_classes)
        self.n_features, self.n_classes = _network_shapes(spec, self.dataset)
        self._mirror: Mirror | None = None
        if spec.model_dir and scheme_of(spec.model_dir):
            self.model_dir, self._mirror = training_dir(spec.model_dir)
        else:
            self.model_dir = prepare_model_dir(spec.model_dir)
        self.warm_start_from = warm_start_from
        self._stop_requested = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._notes: list[str] = []
        self._storage = storage_for(str(self.model_dir))
        self._events_files: set[str] = set()  # this run's events files, checked before each write
        # Held from before the resume checkpoint is picked until training ends; only the chief writes. An OS lock
        # cannot cover a bucket TensorFlow writes directly (a staging folder is locked like any local model_dir).
        self._lock = ModelDirLock(self.model_dir)
        try:
            if self.distribution.is_chief and not scheme_of(str(self.model_dir)):
                self._lock.acquire()
            # Damaged files of ours are named now, before anything is written (a sweep would meet them later).
            read_run_log(self.model_dir)
            read_pins(self.model_dir)
            self._resume_from = self._pick_resume_checkpoint()
            self._check_warm_start()
        except ModelDirLocked as exc:
            raise TrainingError(str(exc)) from None
        except BaseException:
            self._lock.release()
            raise

    def close(self) -> None:
        """Let go of the model_dir's lock; ``events()`` does it when training ends (a Trainer never run calls it)."""
        self._lock.release()

    @property
    def destination(self) -> str:
        """Where the run's files end up: the model_dir, or the bucket URL its staging folder is mirrored to."""
        return self._mirror.remote if self._mirror is not None else str(self.model_dir)

    # Control from other threads.
    def stop(self) -> None:
        self._stop_requested.set()
        self._running.set()

    def pause(self) -> None:
        """Pause between chunks; a pause that arrives after a stop (or races one) never holds the trainer."""
        self._running.clear()
        if self._stop_requested.is_set():  # stop() sets this flag before it releases the wait
            self._running.set()

    def resume(self) -> None:
        self._running.set()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    def evaluate(self, step: int | None = None, split: str = "test") -> inference.EvalResult:
        """Accuracy and mean loss of any existing step (the latest when None), restored into a fresh model."""
        return inference.evaluate(str(self.model_dir), step=step, data=self.dataset, split=split)

    def predict(self, features: list[list[float]], step: int | None = None) -> list[inference.Prediction]:
        """Class probabilities for feature rows, from any existing step (the latest when None)."""
        return inference.predict(str(self.model_dir), features, step=step)

    def run(self, on_event: Callable[[TrainEvent], None] | None = None) -> Finished:
        """Train to the end; raises TrainingError if training failed."""
        for event in self.events():
            if on_event is not None:
                on_event(event)
            if isinstance(event, Failed):
                raise TrainingError(event.message)
            if isinstance(event, Finished):
                return event
        raise TrainingError("training ended without finishing")  # pragma: no cover - events() always finishes

    def events(self) -> Iterator[TrainEvent]:
        """Train, yielding what happens; errors come as a final ``Failed`` event, never as an exception."""
        try:
            yield from self._train()
        except TrainingError as exc:
            yield Failed(str(exc), traceback.format_exc())
        except StorageError as exc:
            yield Failed(lost_connection(str(exc)), traceback.format_exc())
        except OSError as exc:
            where = exc.filename or self.model_dir
            yield Failed(f"cannot write to {where}: {exc.strerror or exc}", traceback.format_exc())
        except tf.errors.OpError as exc:
            yield Failed(self._op_failure(exc), traceback.format_exc())
        finally:
            self._lock.release()

    # Internals.
    def _op_failure(self, exc: tf.errors.OpError) -> str:
        """What a TensorFlow error means here: under multi_worker, the errors of a lost peer say so."""
        worker = self.distribution.worker
        if worker and isinstance(exc, LOST_PEER_ERRORS):
            return f"{_lost_peer(exc.message)} (this is {worker}); every worker stops. {RESTART_ADVICE}"
        if scheme_of(self.model_dir) and str(self.model_dir) in exc.message:  # TensorFlow writing the bucket
            return lost_connection(exc.message)
        return f"TensorFlow failed: {exc.message}"

    def _pick_resume_checkpoint(self) -> str | None:
        """The newest listed checkpoint that fits and is readable; refuses incompatible ones before any write."""
        candidates, note = resume_candidates(self.model_dir)
        if note:
            self._notes.append(note)
        for prefix in candidates:
            problem = cannot_open(prefix)
            if problem:
                raise TrainingError(
                    f"{name_of(prefix)} cannot be read now ({problem}); it may be healthy, so training does not fall "
                    "back to an older checkpoint (whose retention could then delete it). Make it readable and "
                    "train again, or move it out of the model_dir"
                )
            try:
                report = compat.check(self.spec.network, self.n_features, self.n_classes, str(prefix))
            except Exception as exc:  # noqa: BLE001 - any damage means: try the previous checkpoint
                self._notes.append(f"{name_of(prefix)} cannot be read ({exc}); trying the previous checkpoint")
                continue
            if not report.compatible:
                raise IncompatibleCheckpointError(report, str(prefix))
            return prefix
        return None

    def _check_warm_start(self) -> None:
        """A warm start needs a checkpoint to start from, and a model_dir that has none to resume."""
        if not self.warm_start_from:
            return
        try:
            locate(self.warm_start_from)
        except (CheckpointError, OSError) as exc:
            raise ConfigError("warm_start_from", f"no checkpoint to warm-start from: {exc}") from None
        if self._resume_from is not None:
            raise ConfigError(
                "warm_start_from",
                f"{self.model_dir} already has checkpoints, so training resumes from {name_of(self._resume_from)} and "
                "a warm start would be ignored; warm-start into a new model_dir",
            )

    def _restore(self, classifier: Classifier) -> str | None:
        """Restore the picked checkpoint, falling back to older ones if its data turns out damaged."""
        candidates, _ = resume_candidates(self.model_dir)
        if self._resume_from is None:
            return None
        for prefix in candidates[candidates.index(self._resume_from) :]:
            try:
                _load_checkpoint(classifier, prefix, True, self.dataset.feature_names, self._notes)
            except Exception as exc:  # noqa: BLE001 - damaged data: fall back, and say so
                self._notes.append(f"{name_of(prefix)} cannot be restored ({_short(exc)}); trying the previous one")
                continue
            if prefix != candidates[0]:
                latest = name_of(candidates[0])
                self._notes.append(f"latest checkpoint {latest} is not usable; resumed from {name_of(prefix)}")
            return prefix
        raise TrainingError(
            f"no checkpoint in {self.model_dir} can be restored; move them aside or train into a new model_dir"
        )

    def _train(self) -> Iterator[TrainEvent]:
        spec, schedule_config = self.spec, self.spec.schedule
        # Under multi_worker only the chief writes to the model_dir; the others train and leave nothing behind.
        chief = self.distribution.is_chief
        with self.distribution.scope():
            classifier = Classifier(spec.network, self.n_features, self.n_classes, seed=spec.seed)
        resumed = self._restore(classifier)
        if resumed is None and self.warm_start_from:
            loaded = _load_checkpoint(
                classifier, Path(self.warm_start_from), False, self.dataset.feature_names, self._notes
            )
            self._notes.append(f"warm-started {len(loaded)} variables from {self.warm_start_from}")
        start_step = int(classifier.global_step.numpy())
        target = start_step + spec.network.steps
        log = self._open_run_log(start_step, resumed, write=chief)
        resumed_step = start_step if resumed is not None else None
        manager = Retention(self.model_dir, schedule_config, log, resumed_step) if chief else None
        self._push()
        yield Started(self.destination, start_step, target, str(resumed) if resumed else None, tuple(self._notes))

        if len(self.dataset.train[1]) == 0:
            raise TrainingError(f"{self.dataset.source}: the training split is empty; the file needs at least 2 rows")
        seed = self.distribution.common_seed(spec.seed)
        loop = CompiledLoop(classifier, self.dataset, spec.network.batch_size, seed, self.distribution)
        events_before = self._events_on_disk()
        summaries = Summaries(self.model_dir) if chief else None
        self._events_files = self._events_on_disk() - events_before
        if chief:
            loop.write_graph(self.model_dir)
        schedule = _Schedule(
            schedule_config.save_summary_steps,
            schedule_config.save_checkpoints_steps,
            schedule_config.save_checkpoints_secs,
            last_save_step=-1,
        )
        step = start_step
        if manager is None or manager.has_checkpoint(step):
            schedule.last_save_step = step
        else:
            yield from self._save(classifier, manager, schedule, summaries, loop, step)
        started = time.monotonic()
        window_start, window_step = started, step
        summary_time, summary_step = started, step
        stopped = False
        try:
            while step < target:
                if not self._running.is_set():
                    yield Paused(step)
                    self._running.wait()
                    if not self._stop_requested.is_set():
                        yield Resumed(step)
                    window_start, window_step = time.monotonic(), step
                if self._stop_requested.is_set():
                    stopped = True
                    break
                boundary = schedule.next_boundary(step, target)
                loss, accuracy, metrics = loop.run(boundary - step, schedule.checkpoint_expected(boundary, target))
                if not math.isfinite(loss):
                    raise TrainingError(
                        f"the training loss became {loss} by step {boundary}: training diverged (learning rate "
                        f"{spec.network.learning_rate}). Stopped without saving it; the latest checkpoint stays "
                        f"step {schedule.last_save_step}. Lower the learning rate and train again"
                    )
                step = boundary
                now = time.monotonic()
                rate = (step - window_step) / max(now - window_start, 1e-9)
                if now - window_start > 1.0:
                    window_start, window_step = now, step
                yield Progress(step, target, loss, accuracy, rate, now - started)
                if summaries is not None and step % schedule_config.save_summary_steps == 0:
                    self._check_outputs(step)
                    summaries.train(
                        step,
                        loss,
                        accuracy,
                        spec.network.learning_rate,
                        (step - summary_step) / max(now - summary_time, 1e-9),
                    )
                    summary_time, summary_step = now, step
                if schedule.checkpoint_due(step) or step == target:
                    yield from self._save(classifier, manager, schedule, summaries, loop, step, metrics)
            if schedule.last_save_step != step:
                yield from self._save(classifier, manager, schedule, summaries, loop, step)
        finally:
            if chief:
                summaries.close()
                log.history[-1].update(end_step=step, finished=_now_iso(), stopped=stopped)
                if self._model_dir_exists():  # removed mid-run: recreate nothing there
                    write_run_log(self.model_dir, log)
            self._lock.release()
        self._push()
        yield Finished(step, stopped)

    def _check_outputs(self, step: int) -> None:
        """Before writing: the model_dir and this run's events file must still be there.

        A removed model_dir would be recreated, partially, by the next save; a deleted events file would
        silently swallow every later summary. Either stops the run, saying so.
        """
        if not self._model_dir_exists():
            raise TrainingError(
                f"the model_dir {self.model_dir} was removed while training; stopped at step {step} without "
                "writing anything (recreating it would leave a partial copy)"
            )
        for events in self._events_files:
            if self._storage.info(events) is None:
                raise TrainingError(
                    f"the events file {name_of(events)} was deleted while training, so later summaries would be lost; "
                    f"stopped at step {step}. Train again to continue with a new events file"
                )

    def _events_on_disk(self) -> set[str]:
        return {e.path for e in self._storage.listdir(str(self.model_dir)) if e.name.startswith(EVENTS_PREFIX)}

    def _model_dir_exists(self) -> bool:
        found = self._storage.info(str(self.model_dir))
        return found is not None and found.is_dir

    def _push(self) -> None:
        """Upload what changed to the bucket, when the model_dir is one (a no-op for a local one or a non-chief)."""
        if self._mirror is not None and self.distribution.is_chief:
            self._mirror.push()

    def _save(self, classifier, manager, schedule, summaries, loop, step, metrics=None) -> Iterator[TrainEvent]:
        if manager is None:  # not the chief: it keeps the schedule, the chief writes
            schedule.last_save_step, schedule.last_save_time = step, time.monotonic()
            return
        if metrics is None:
            metrics = loop.evaluate()
        self._check_outputs(step)
        prefix = checkpoint_prefix(self.model_dir, step)
        loop.save(prefix)
        schedule.last_save_step, schedule.last_save_time = step, time.monotonic()
        deleted = manager.record(step, prefix, metrics)
        yield CheckpointSaved(step, prefix, "; ".join(manager.problems))
        manager.problems.clear()
        for gone_step, gone_prefix in deleted:
            yield CheckpointDeleted(gone_step, gone_prefix)
        summaries.evaluation(step, metrics)
        self._push()
        yield Evaluated(step, metrics)

    def _open_run_log(self, start_step: int, resumed: str | None, write: bool) -> RunLog:
        log = read_run_log(self.model_dir) or RunLog()
        log.spec = replace(self.spec, model_dir=self.destination)
        log.data = self.dataset.describe()
        log.history.append(
            {
                "started": _now_iso(),
                "start_step": start_step,
                "resumed_from": name_of(resumed) if resumed else None,
                "warm_start_from": self.warm_start_from,
                "network": self.spec.network.to_dict(),
                "schedule": self.spec.schedule.to_dict(),
                "distribution": self.distribution.describe(),
                "n_features": self.n_features,
                "n_classes": self.n_classes,
                "data_sha256": self.dataset.sha256,
                "versions": {
                    "ckptgui": ckptgui.__version__,
                    "tensorflow": tf.__version__,
                    "python": platform.python_version(),
                },
                "host": socket.gethostname(),
            }
        )
        if write:
            write_run_log(self.model_dir, log)
        return log


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _lost_peer(message: str) -> str:
    """``lost contact with worker 1: <TensorFlow's reason>`` from a failed collective's error message."""
    peer = _PEER.search(message)
    who = f"{peer.group(1)} {peer.group(2)}" if peer else "another worker"
    lines = [line.strip() for line in message.strip().splitlines()]
    at = next((index for index, line in enumerate(lines) if "aborted by" in line), len(lines) - 1)
    reason = lines[at]
    if reason.endswith(":") and at + 1 < len(lines):  # "... unhealthy (stopped sending heartbeats):" + who
        reason = f"{reason} {lines[at + 1]}"
    return f"lost contact with {who}: {reason[:300]}"


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _load_checkpoint(
    classifier: Classifier, prefix: str | os.PathLike, strict: bool, feature_names: list[str], notes: list[str]
) -> list[str]:
    """Restore the checkpoint with its optimizer state, its first layer fed in ``feature_names`` order.

    ``strict``: a resume (every network variable, the global step, every tensor readable); otherwise a warm
    start, which skips variables that are absent or of another shape. Returns the names loaded.
    """
    checkpoint = locate(str(prefix))
    order, order_notes = first_layer_order(checkpoint, feature_names)
    notes.extend(order_notes)
    return load_weights(classifier, checkpoint, order, strict=strict, training_state=True)
