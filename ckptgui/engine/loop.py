"""The compiled training loop and its summaries: what makes the engine an order of magnitude faster.

Between schedule boundaries (summary steps, checkpoint steps, a cap for
responsiveness) the steps run as one compiled ``tf.range`` loop, XLA-compiled
when the platform allows it, over a fixed-shape block of batch indices: one
trace, one compile, no per-step Python. Checkpoints and summaries are written
by ``tf.function`` calls traced once, for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from ckptgui.engine.distribute import SINGLE_DEVICE, Distribution
from ckptgui.engine.model import Classifier
from ckptgui.modeldir.data import Dataset
from ckptgui.storage import scheme_of, storage_for

MAX_CHUNK_STEPS = 200  # upper bound on steps between two looks at stop/pause
EVAL_DIRNAME = "eval"
BUCKET_FLUSH_MILLIS = 10_000  # summaries into a bucket: each flush uploads the whole events object again


class CompiledLoop:
    """Runs N training steps as one ``tf.function`` over a fixed-shape index block (one trace, one compile)."""

    def __init__(
        self,
        classifier: Classifier,
        dataset: Dataset,
        batch_size: int,
        seed: int | None,
        distribution: Distribution = SINGLE_DEVICE,
    ) -> None:
        self.classifier = classifier
        self.strategy = distribution.strategy
        train_x, train_y = dataset.train
        test_x, test_y = dataset.test
        self.train_x, self.train_y = tf.constant(train_x), tf.constant(train_y)
        self.test_x, self.test_y = tf.constant(test_x), tf.constant(test_y)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.pending = np.empty(0, dtype=np.int32)
        self.block = np.empty((MAX_CHUNK_STEPS, batch_size), dtype=np.int32)
        self.jit = distribution.jit_allowed and _xla_available()
        # Concrete functions, traced here once: a call skips tf.function's argument matching (GIL time the
        # window's thread would wait for), and TensorFlow's "excessive retracing" warning, which counts one
        # trace per Trainer as a retrace when the window trains again and again in one process.
        self._steps = tf.function(self._run_steps, jit_compile=self.jit).get_concrete_function(
            tf.TensorSpec([MAX_CHUNK_STEPS, batch_size], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.bool),
        )
        self._save = tf.function(self._write).get_concrete_function(tf.TensorSpec([], tf.string))
        self._evaluate_alone: Callable | None = None

    def _evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        if int(self.test_y.shape[0]) == 0:
            return tf.constant(float("nan")), tf.constant(float("nan"))
        return self.classifier.loss_and_accuracy(self.test_x, self.test_y)

    def _run_steps(self, indices: tf.Tensor, count: tf.Tensor, with_eval: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """``count`` steps, then (when asked) the test-split metrics, in one call: no per-step Python."""
        loss, accuracy = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(count):
            loss, accuracy = self._train_step(indices[i])
        eval_loss, eval_accuracy = tf.cond(
            with_eval, self._evaluate, lambda: (tf.constant(float("nan")), tf.constant(float("nan")))
        )
        return loss, accuracy, eval_loss, eval_accuracy

    def _train_step(self, batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One step on the batch ``batch`` indexes; under a strategy, each replica trains on its share of it."""
        if self.strategy is None:
            return self.classifier.train_step(tf.gather(self.train_x, batch), tf.gather(self.train_y, batch))
        results = self.strategy.run(self._replica_step, args=(batch,))
        # All-reduced in the step, the metrics are equal on every replica: any local copy is the batch's.
        loss, accuracy = (self.strategy.experimental_local_results(result)[0] for result in results)
        return loss, accuracy

    def _replica_step(self, batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """This replica's equal share of the global batch (every worker draws the same batches)."""
        context = tf.distribute.get_replica_context()
        share = self.batch_size // context.num_replicas_in_sync
        mine = batch[context.replica_id_in_sync_group * share :][:share]
        return self.classifier.train_step(tf.gather(self.train_x, mine), tf.gather(self.train_y, mine))

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
        """Test-split metrics now: on one device, the training function run for zero steps (no second trace).

        Under a strategy, a function of its own: each run of a function holding collectives takes the next
        step of a sequence every worker must follow, so a run only the chief makes (it alone saves) would
        hang the next training step.
        """
        if self.strategy is None:
            _, _, metrics = self.run(0, with_eval=True)
            return metrics or {}
        if self._evaluate_alone is None:
            self._evaluate_alone = tf.function(self._evaluate).get_concrete_function()
        return self._metrics(*self._evaluate_alone())

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

    def write_graph(self, model_dir: str | os.PathLike) -> None:
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


class Summaries:
    """Scalar summaries as Estimator wrote them: training into model_dir, evaluation into model_dir/eval.

    The writers flush every 500 ms on their own, so live plots lag at most that much. Into a bucket they flush
    every 10 s (TensorFlow uploads the whole events object at each flush on GCS), and at each checkpoint.

    Each group is written by one ``tf.function`` call: four eager ``tf.summary.scalar``
    calls cost more than the hundred training steps between two summaries.
    """

    TRAIN_TAGS = ("loss", "accuracy", "learning_rate", "global_step/sec")
    EVAL_TAGS = ("accuracy", "loss")

    def __init__(self, model_dir: str | os.PathLike) -> None:
        flush_millis = BUCKET_FLUSH_MILLIS if scheme_of(model_dir) else 500
        eval_dir = storage_for(model_dir).join(model_dir, EVAL_DIRNAME)
        self.train_writer = tf.summary.create_file_writer(os.fspath(model_dir), flush_millis=flush_millis)
        self.eval_writer = tf.summary.create_file_writer(eval_dir, flush_millis=flush_millis)
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
        self.flush()  # an evaluation comes with each checkpoint: its points show with it, even from a bucket

    def flush(self) -> None:
        self.train_writer.flush()
        self.eval_writer.flush()

    def close(self) -> None:
        self.train_writer.close()
        self.eval_writer.close()
