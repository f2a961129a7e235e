"""The gui's one way to the engine (TensorFlow): training, inference and tensor reads all go through here.

TensorFlow is imported by :func:`load_tensorflow`, on the GUI thread, right
after the window's first paint and behind a status message: imported in a
worker it holds the GIL for seconds and the window freezes. Every other
function here imports its engine module when first called; once
``load_tensorflow`` ran that import is a dictionary lookup. No other module of
the gui imports ``ckptgui.engine`` (the architecture test checks it), so this
module is where the gui's dependence on TensorFlow is seen whole.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ckptgui.modeldir.compat import CompatReport, compare
from ckptgui.modeldir.config import RunSpec
from ckptgui.modeldir.data import Dataset
from ckptgui.modeldir.scan import CheckpointInfo, locate

if TYPE_CHECKING:  # the engine's types, for the annotations of the gui modules (which import them from here)
    from ckptgui.engine.export import ExportResult
    from ckptgui.engine.inference import EvalResult, Prediction
    from ckptgui.engine.training import Progress, Trainer  # noqa: F401 - Progress: the training controller's
    from ckptgui.modeldir.tensors import DiffReport

ENGINE_MODULES = ("ckptgui.engine.training", "ckptgui.engine.model", "ckptgui.engine.inference")
HISTOGRAM_BINS = 60


def _leave_a_core_for_the_window(tf: ModuleType) -> None:
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


def _warm_up(tf: ModuleType) -> None:
    """Run TensorFlow's one-time set-ups (eager context, XLA's JIT) here, behind the loading message.

    Done first inside the training thread, they hold the GIL in C++ for a few
    hundred milliseconds and the window stops answering at the start of the first run.
    """
    value = tf.constant(1.0)
    tf.function(lambda x: x + 1)(value)
    with contextlib.suppress(Exception):  # a build without XLA: the trainer finds out and runs without it
        tf.function(lambda x: x * 2, jit_compile=True)(value)


def load_tensorflow() -> str:
    """Import TensorFlow and the engine, set its threads, warm it up; returns TensorFlow's version.

    Call on the GUI thread. TensorFlow's many long-lived objects are then
    frozen out of every later full garbage collection.
    """
    tf = importlib.import_module("tensorflow")
    for name in ENGINE_MODULES:
        importlib.import_module(name)
    _leave_a_core_for_the_window(tf)
    _warm_up(tf)
    gc.freeze()
    return str(tf.__version__)


# Training --------------------------------------------------------------------------------------------
def training() -> ModuleType:
    """``ckptgui.engine.training``: its event classes (Started, Progress, …) and IncompatibleCheckpointError."""
    return importlib.import_module("ckptgui.engine.training")


def devices() -> list[tuple[str, str]]:
    """The devices TensorFlow sees, for the form's device list: (``GPU:0``, its model name or ``""``)."""
    from ckptgui.engine.distribute import describe_devices

    return describe_devices()


def preflight(spec: RunSpec, dataset: Dataset) -> CompatReport | None:
    """Whether ``spec.model_dir``'s checkpoint fits ``spec``, judged with the form's already loaded ``dataset``."""
    return training().preflight(spec, dataset)


def new_trainer(spec: RunSpec, warm_start_from: str | None, dataset: Dataset | None) -> Trainer:
    """A Trainer for ``spec`` that trains on ``dataset`` (None: it loads ``spec.data`` itself)."""
    return training().Trainer(spec, warm_start_from=warm_start_from, dataset=dataset)


# Inference ---------------------------------------------------------------------------------------------
def evaluate_on_test(prefix: str, dataset: Dataset | None) -> EvalResult:
    """Accuracy and loss of one checkpoint on the test split (``dataset`` None: the data its run recorded)."""
    from ckptgui.engine.inference import evaluate

    return evaluate(prefix, None, dataset, "test")


def predict(prefix: str, rows: list[list[float]]) -> list[Prediction]:
    from ckptgui.engine.inference import predict as predict_rows

    return predict_rows(prefix, rows)


# Export for serving -------------------------------------------------------------------------------------
def export_checkpoint(prefix: str, fmt: str, folder: str, on_progress: Callable[[str], None]) -> ExportResult:
    """Export one checkpoint into ``folder`` (a new ``<version>`` name, never replacing one); for a worker thread."""
    from ckptgui.engine.export import export

    return export(prefix, fmt=fmt, out=folder, on_progress=on_progress)


def default_export_folder(prefix: str) -> str:
    """``MODEL_DIR/export``, where ``ckptgui export`` writes by default."""
    from ckptgui.engine.export import default_base

    return str(default_base(prefix))


# Comparing two checkpoints ------------------------------------------------------------------------------
@dataclass
class Comparison:
    a: CheckpointInfo
    b: CheckpointInfo
    shapes: CompatReport  # B against A
    diff: DiffReport
    evals: tuple[EvalResult | str, EvalResult | str]  # for A and B: the result, or why it failed


def compare_checkpoints(a: CheckpointInfo, b: CheckpointInfo, data: Dataset | None) -> Comparison:
    """Shapes, per-variable differences, and both checkpoints evaluated on the test split; for a worker thread."""
    from ckptgui.modeldir.tensors import diff

    shapes = compare(a.prefix, b.prefix)
    report = diff(a.prefix, b.prefix)
    evals: list[EvalResult | str] = []
    for checkpoint in (a, b):
        try:
            evals.append(evaluate_on_test(checkpoint.prefix, data))
        except Exception as exc:  # noqa: BLE001 - one side not evaluable is a row of text, not a failure
            evals.append(str(exc))
    return Comparison(a, b, shapes, report, (evals[0], evals[1]))


def histograms(a_prefix: str, b_prefix: str, name: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Both tensors' values binned on common edges: (name, edges, counts A, counts B)."""
    from ckptgui.modeldir.tensors import read_tensor

    values_a = np.asarray(read_tensor(locate(a_prefix), name), dtype=np.float64).ravel()
    values_b = np.asarray(read_tensor(locate(b_prefix), name), dtype=np.float64).ravel()
    both = np.concatenate([values_a, values_b])
    both = both[np.isfinite(both)]
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts_a, _ = np.histogram(values_a[np.isfinite(values_a)], bins=edges)
    counts_b, _ = np.histogram(values_b[np.isfinite(values_b)], bins=edges)
    return name, edges, counts_a, counts_b
