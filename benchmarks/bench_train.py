"""Training speed on the guide's workload, against a per-step ``tf.function`` loop measured in the same run.

Workload (issue 2): Iris, hidden_units [10, 10], batch 100, Adagrad 0.05, 5,000 steps,
save_checkpoints_steps=100, keep_checkpoint_max=5, save_summary_steps=100 — every checkpoint,
evaluation and summary on schedule. Target: >= 10,000 steps/s.

    .venv/bin/python benchmarks/bench_train.py [--steps 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from ckptgui.engine.model import Classifier
from ckptgui.engine.training import CheckpointSaved, Progress, Started, Trainer
from ckptgui.modeldir.config import DataConfig, NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.data import load_dataset

TARGET = 10_000


def engine_rate(steps: int) -> tuple[float, int]:
    """Steps/s from the first step to the final checkpoint (set-up and XLA compile excluded, as a warm app)."""
    spec = RunSpec(
        network=NetworkConfig(hidden_units=[10, 10], batch_size=100, steps=steps),
        schedule=ScheduleConfig(save_checkpoints_steps=100, keep_checkpoint_max=5, save_summary_steps=100),
        model_dir=tempfile.mkdtemp(prefix="bench-train-"),
        seed=1,
    )
    start = saves = 0
    for event in Trainer(spec).events():
        if isinstance(event, Progress) and not start:
            start, first = time.perf_counter(), event.step
        if isinstance(event, CheckpointSaved):
            saves += 1
        if isinstance(event, Started):
            begin = event.start_step
    elapsed = time.perf_counter() - start
    return (steps - (first - begin)) / elapsed, saves


def per_step_rate(steps: int) -> float:
    """The reference: one ``tf.function`` call per step, same model and batches, no checkpoints."""
    data = load_dataset(DataConfig())
    x, y = (tf.constant(a) for a in data.train)
    model = Classifier(NetworkConfig(hidden_units=[10, 10]), 4, 3, seed=1)
    step = tf.function(lambda idx: model.train_step(tf.gather(x, idx), tf.gather(y, idx)))
    batches = np.random.default_rng(1).integers(0, 120, size=(steps, 100)).astype(np.int32)
    step(tf.constant(batches[0]))
    start = time.perf_counter()
    for batch in batches:
        step(tf.constant(batch))
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reference = max(per_step_rate(args.steps) for _ in range(args.repeats))
    runs = [engine_rate(args.steps) for _ in range(args.repeats)]
    best = max(rate for rate, _ in runs)
    print(f"workload: Iris [10,10] batch 100 Adagrad, {args.steps} steps, checkpoint+eval and summaries every 100")
    print(f"checkpoints written per run: {runs[0][1]}")
    print(f"per-step tf.function loop (no checkpoints): {reference:,.0f} steps/s")
    print(
        f"ckptgui engine (every checkpoint and summary): {best:,.0f} steps/s "
        f"(runs: {', '.join(f'{r:,.0f}' for r, _ in runs)})"
    )
    print(f"ratio engine / per-step loop: {best / reference:.1f}x")
    print(f"target >= {TARGET:,} steps/s: {'met' if best >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
