"""The training engine: Estimator's checkpoint behaviour rebuilt on ``tf.train.Checkpoint``.

A :class:`Trainer` trains in the caller's thread and reports what happens as
plain event objects (no Qt). Between schedule boundaries (summary steps,
checkpoint steps, a cap for responsiveness) the steps run as one compiled
``tf.range`` loop, XLA-compiled when the platform allows it, which is what
makes it an order of magnitude faster than a step-per-call loop.

Checkpoints are written as ``model.ckpt-<global_step>`` with
``Checkpoint.write`` and the ``checkpoint`` state file is maintained here, not
by ``tf.train.CheckpointManager``: the manager sweeps checkpoints it did not
write (tensorflow#34234), while this engine only ever deletes checkpoints its
own runs wrote (recorded in ``ckptgui_written.txt``) and never pinned ones. The
state file is rewritten before the swept files are deleted, so it never lists
a checkpoint that is gone.
"""

from __future__ import annotations

import os
import platform
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

import ckptgui
from ckptgui.engine import inference
from ckptgui.engine.inference import feed_from_data, first_layer_order
from ckptgui.engine.model import Classifier
from ckptgui.formats.statefile import StateFileError, read_state
from ckptgui.modeldir import compat
from ckptgui.modeldir.config import ConfigError, RunSpec
from ckptgui.modeldir.data import Dataset, load_dataset
from ckptgui.modeldir.records import RunLog, read_run_log, write_run_log
from ckptgui.modeldir.retention import Retention, checkpoint_prefix, checkpoints_on_disk, resolve
from ckptgui.modeldir.variables import list_variables

MAX_CHUNK_STEPS = 200  # upper bound on steps between two looks at stop/pause
EVAL_DIRNAME = "eval"


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


def resume_candidates(model_dir: Path) -> tuple[list[Path], str | None]:
    """Checkpoints to resume from, best first, and a note when the state file could not be used.

    The state file's latest comes first, then the others it lists, newest first
    (as Estimator, unlisted checkpoints are not resumed). When the state file is
    damaged, the checkpoints on disk are taken by step instead, and the note says so.
    """
    try:
        state = read_state(model_dir)
    except StateFileError as exc:
        on_disk = [Path(prefix) for prefix in checkpoints_on_disk(model_dir)]
        note = f"the `checkpoint` state file is damaged ({exc}); resuming from the newest checkpoint on disk"
        return list(reversed(on_disk)), note if on_disk else None
    if state is None:
        return [], None
    ordered = [state.model_checkpoint_path, *reversed(state.all_model_checkpoint_paths)]
    seen: list[Path] = []
    for path in ordered:
        prefix = Path(resolve(model_dir, path))
        if prefix not in seen and Path(f"{prefix}.index").exists():
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
    candidates, _ = resume_candidates(Path(spec.model_dir))
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
        self.dataset = dataset or load_dataset(spec.data, spec.network.n_classes)
        self.n_features, self.n_classes = _network_shapes(spec, self.dataset)
        self.model_dir = prepare_model_dir(spec.model_dir)
        self.warm_start_from = warm_start_from
        self._stop_requested = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._notes: list[str] = []
        self._resume_from = self._pick_resume_checkpoint()

    # Control from other threads.
    def stop(self) -> None:
        self._stop_requested.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

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
        except OSError as exc:
            where = exc.filename or self.model_dir
            yield Failed(f"cannot write to {where}: {exc.strerror or exc}", traceback.format_exc())
        except tf.errors.OpError as exc:
            yield Failed(f"TensorFlow failed: {exc.message}", traceback.format_exc())

    # Internals.
    def _pick_resume_checkpoint(self) -> Path | None:
        """The newest listed checkpoint that fits and is readable; refuses incompatible ones before any write."""
        candidates, note = resume_candidates(self.model_dir)
        if note:
            self._notes.append(note)
        for prefix in candidates:
            try:
                report = compat.check(self.spec.network, self.n_features, self.n_classes, str(prefix))
            except Exception as exc:  # noqa: BLE001 - any damage means: try the previous checkpoint
                self._notes.append(f"{prefix.name} cannot be read ({exc}); trying the previous checkpoint")
                continue
            if not report.compatible:
                raise IncompatibleCheckpointError(report, str(prefix))
            return prefix
        return None

    def _restore(self, classifier: Classifier) -> Path | None:
        """Restore the picked checkpoint, falling back to older ones if its data turns out damaged."""
        candidates, _ = resume_candidates(self.model_dir)
        if self._resume_from is None:
            return None
        for prefix in candidates[candidates.index(self._resume_from) :]:
            try:
                _load_checkpoint(classifier, prefix, True, self.dataset.feature_names, self._notes)
            except Exception as exc:  # noqa: BLE001 - damaged data: fall back, and say so
                self._notes.append(f"{prefix.name} cannot be restored ({_short(exc)}); trying the previous one")
                continue
            if prefix != candidates[0]:
                self._notes.append(f"latest checkpoint {candidates[0].name} is not usable; resumed from {prefix.name}")
            return prefix
        raise TrainingError(
            f"no checkpoint in {self.model_dir} can be restored; move them aside or train into a new model_dir"
        )

    def _train(self) -> Iterator[TrainEvent]:
        spec, schedule_config = self.spec, self.spec.schedule
        classifier = Classifier(spec.network, self.n_features, self.n_classes, seed=spec.seed)
        resumed = self._restore(classifier)
        if resumed is None and self.warm_start_from:
            loaded = _load_checkpoint(
                classifier, Path(self.warm_start_from), False, self.dataset.feature_names, self._notes
            )
            self._notes.append(f"warm-started {len(loaded)} variables from {self.warm_start_from}")
        start_step = int(classifier.global_step.numpy())
        target = start_step + spec.network.steps
        log = self._open_run_log(start_step, resumed)
        manager = Retention(self.model_dir, schedule_config, log)
        yield Started(str(self.model_dir), start_step, target, str(resumed) if resumed else None, tuple(self._notes))

        loop = _CompiledLoop(classifier, self.dataset, spec.network.batch_size, spec.seed)
        summaries = _Summaries(self.model_dir)
        loop.write_graph(self.model_dir)
        schedule = _Schedule(
            schedule_config.save_summary_steps,
            schedule_config.save_checkpoints_steps,
            schedule_config.save_checkpoints_secs,
            last_save_step=-1,
        )
        step = start_step
        if not manager.has_checkpoint(step):
            yield from self._save(classifier, manager, schedule, summaries, loop, step)
        else:
            schedule.last_save_step = step
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
                step = boundary
                now = time.monotonic()
                rate = (step - window_step) / max(now - window_start, 1e-9)
                if now - window_start > 1.0:
                    window_start, window_step = now, step
                yield Progress(step, target, loss, accuracy, rate, now - started)
                if step % schedule_config.save_summary_steps == 0:
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
            summaries.close()
            log.history[-1].update(end_step=step, finished=_now_iso(), stopped=stopped)
            write_run_log(self.model_dir, log)
        yield Finished(step, stopped)

    def _save(self, classifier, manager, schedule, summaries, loop, step, metrics=None) -> Iterator[TrainEvent]:
        if metrics is None:
            metrics = loop.evaluate()
        prefix = checkpoint_prefix(self.model_dir, step)
        loop.save(prefix)
        schedule.last_save_step, schedule.last_save_time = step, time.monotonic()
        deleted = manager.record(step, prefix, metrics)
        yield CheckpointSaved(step, prefix)
        for gone_step, gone_prefix in deleted:
            yield CheckpointDeleted(gone_step, gone_prefix)
        summaries.evaluation(step, metrics)
        yield Evaluated(step, metrics)

    def _open_run_log(self, start_step: int, resumed: Path | None) -> RunLog:
        log = read_run_log(self.model_dir) or RunLog()
        log.spec = replace(self.spec, model_dir=str(self.model_dir))
        log.data = self.dataset.describe()
        log.history.append(
            {
                "started": _now_iso(),
                "start_step": start_step,
                "resumed_from": resumed.name if resumed else None,
                "warm_start_from": self.warm_start_from,
                "network": self.spec.network.to_dict(),
                "schedule": self.spec.schedule.to_dict(),
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
        write_run_log(self.model_dir, log)
        return log


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _load_checkpoint(
    classifier: Classifier, prefix: Path, strict: bool, feature_names: list[str], notes: list[str]
) -> list[str]:
    """Copy the checkpoint's tensors into ``classifier`` by readable name; returns the names loaded.

    Works for our object-based checkpoints and for Estimator's name-based
    ones alike (whose first layer took the columns sorted by name: its rows are
    rearranged to the data's column order). ``strict`` requires every network
    variable with the right shape (a resume); otherwise variables that are
    absent or of another shape are skipped (a warm start).
    """
    reader = tf.train.load_checkpoint(str(prefix))
    stored = {info.name: info for info in list_variables(str(prefix))}
    order, order_notes = first_layer_order(prefix, feature_names)
    notes.extend(order_notes)

    def value(key: str, name: str) -> np.ndarray:
        tensor = reader.get_tensor(key)
        return feed_from_data(tensor, order) if name == "dnn/hiddenlayer_0/kernel" else tensor

    loaded: list[str] = []
    targets = dict(classifier.dnn.named_variables())
    for name, variable in targets.items():
        info = stored.get(name)
        if info is None or list(info.shape) != variable.shape.as_list():
            if strict:
                raise TrainingError(f"{prefix.name}: {name} is missing or has another shape")
            continue
        variable.assign(value(info.key, name))
        loaded.append(name)
        for slot_name in classifier.optimizer.get_slot_names():
            slot = classifier.optimizer.get_slot(variable, slot_name)
            slot_info = info.slots.get(slot_name)
            if slot is not None and slot_info is not None and list(slot_info.shape) == slot.shape.as_list():
                slot.assign(value(slot_info.key, name))
    if strict:
        if "global_step" in stored:
            classifier.global_step.assign(int(reader.get_tensor(stored["global_step"].key)))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)  # a resume must not start from a checkpoint with any damaged tensor
    return loaded


class _CompiledLoop:
    """Runs N training steps as one ``tf.function`` over a fixed-shape index block (one trace, one compile)."""

    def __init__(self, classifier: Classifier, dataset: Dataset, batch_size: int, seed: int | None) -> None:
        self.classifier = classifier
        train_x, train_y = dataset.train
        test_x, test_y = dataset.test
        if len(train_y) == 0:
            raise TrainingError(f"{dataset.source}: the training split is empty; the file needs at least 2 rows")
        self.train_x, self.train_y = tf.constant(train_x), tf.constant(train_y)
        self.test_x, self.test_y = tf.constant(test_x), tf.constant(test_y)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.pending = np.empty(0, dtype=np.int32)
        self.block = np.empty((MAX_CHUNK_STEPS, batch_size), dtype=np.int32)
        self.jit = _xla_available()
        # Concrete functions, traced here once: a call skips tf.function's argument matching (GIL time the
        # window's thread would wait for), and TensorFlow's "excessive retracing" warning, which counts one
        # trace per Trainer as a retrace when the window trains again and again in one process.
        self._steps = tf.function(self._run_steps, jit_compile=self.jit).get_concrete_function(
            tf.TensorSpec([MAX_CHUNK_STEPS, batch_size], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.bool),
        )
        self._save = tf.function(self._write).get_concrete_function(tf.TensorSpec([], tf.string))

    def _evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        if int(self.test_y.shape[0]) == 0:
            return tf.constant(float("nan")), tf.constant(float("nan"))
        return self.classifier.loss_and_accuracy(self.test_x, self.test_y)

    def _run_steps(self, indices: tf.Tensor, count: tf.Tensor, with_eval: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """``count`` steps, then (when asked) the test-split metrics, in one call: no per-step Python."""
        loss, accuracy = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(count):
            batch = indices[i]
            loss, accuracy = self.classifier.train_step(tf.gather(self.train_x, batch), tf.gather(self.train_y, batch))
        eval_loss, eval_accuracy = tf.cond(
            with_eval, self._evaluate, lambda: (tf.constant(float("nan")), tf.constant(float("nan")))
        )
        return loss, accuracy, eval_loss, eval_accuracy

    def _next_indices(self, steps: int) -> np.ndarray:
        """Shuffled epochs, repeated, cut into batches: ``shuffle().repeat().batch()`` without tf.data."""
        needed = steps * self.batch_size
        if self.pending.size < needed:
            n = int(self.train_y.shape[0])
            epochs = -(-(needed - self.pending.size) // n)
            shuffled = self.rng.permuted(np.tile(np.arange(n, dtype=np.int32), (epochs, 1)), axis=1)
            self.pending = np.concatenate([self.pending, shuffled.ravel()])
        self.block[:steps] = self.pending[:needed].reshape(steps, self.batch_size)
        self.pending = self.pending[needed:]
        return self.block

    def run(self, steps: int, with_eval: bool) -> tuple[float, float, dict[str, float] | None]:
        """Train ``steps`` steps; returns the last batch's loss and accuracy, and test metrics if asked."""
        loss, accuracy, eval_loss, eval_accuracy = self._steps(
            tf.constant(self._next_indices(steps)), tf.constant(steps), tf.constant(with_eval)
        )
        return float(loss), float(accuracy), self._metrics(eval_loss, eval_accuracy) if with_eval else None

    def evaluate(self) -> dict[str, float]:
        """Test-split metrics now: the training function run for zero steps (no second function to trace)."""
        _, _, metrics = self.run(0, with_eval=True)
        return metrics or {}

    def _write(self, prefix: tf.Tensor) -> tf.Tensor:
        # Traced, the object-graph tensor has no device and would land in a shard of its own
        # (.data-00000-of-00002); on the variables' device everything is one .data-00000-of-00001.
        with tf.device(self.classifier.global_step.device):
            return self.classifier.checkpoint.write(prefix)

    def save(self, prefix: str) -> None:
        """``Checkpoint.write`` traced once: an eager write rebuilds the object graph each time (2.5x slower)."""
        self._save(tf.constant(prefix))

    @staticmethod
    def _metrics(loss: tf.Tensor, accuracy: tf.Tensor) -> dict[str, float]:
        if np.isnan(float(loss)):
            return {}  # no test split
        return {"accuracy": float(accuracy), "loss": float(loss)}

    def write_graph(self, model_dir: Path) -> None:
        """``graph.pbtxt`` with the training step's graph, as Estimator wrote."""
        tf.io.write_graph(self._steps.graph.as_graph_def(), str(model_dir), "graph.pbtxt", as_text=True)


_XLA_OK: bool | None = None


def _xla_available() -> bool:
    """XLA makes the loop ~3x faster; some builds or platforms lack it, so try once and remember."""
    global _XLA_OK
    if _XLA_OK is None:
        try:
            tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1.0))
            _XLA_OK = True
        except Exception:  # noqa: BLE001 - any failure means: run without XLA
            _XLA_OK = False
    return _XLA_OK


class _Summaries:
    """Scalar summaries as Estimator wrote them: training into model_dir, evaluation into model_dir/eval.

    The writers flush every 500 ms on their own, so live plots lag at most that much.

    Each group is written by one ``tf.function`` call: four eager ``tf.summary.scalar``
    calls cost more than the hundred training steps between two summaries.
    """

    TRAIN_TAGS = ("loss", "accuracy", "learning_rate", "global_step/sec")
    EVAL_TAGS = ("accuracy", "loss")

    def __init__(self, model_dir: Path) -> None:
        self.train_writer = tf.summary.create_file_writer(str(model_dir), flush_millis=500)
        self.eval_writer = tf.summary.create_file_writer(str(model_dir / EVAL_DIRNAME), flush_millis=500)
        # Traced now, not at the first summary: a trace costs more than a thousand training steps.
        self._write_train = self._writer_function(self.train_writer, self.TRAIN_TAGS).get_concrete_function()
        self._write_eval = self._writer_function(self.eval_writer, self.EVAL_TAGS).get_concrete_function()

    @staticmethod
    def _writer_function(writer: tf.summary.SummaryWriter, tags: tuple[str, ...]) -> Callable:
        @tf.function(input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([len(tags)], tf.float32)])
        def write(step: tf.Tensor, values: tf.Tensor) -> None:
            with writer.as_default(step=step):
                for index, tag in enumerate(tags):
                    tf.summary.scalar(tag, values[index])

        return write

    def train(self, step: int, loss: float, accuracy: float, learning_rate: float, steps_per_sec: float) -> None:
        self._write_train(tf.constant(step, tf.int64), tf.constant([loss, accuracy, learning_rate, steps_per_sec]))

    def evaluation(self, step: int, metrics: dict[str, float]) -> None:
        if metrics:
            values = [metrics[tag] for tag in self.EVAL_TAGS]
            self._write_eval(tf.constant(step, tf.int64), tf.constant(values, tf.float32))

    def close(self) -> None:
        self.train_writer.close()
        self.eval_writer.close()
