"""Training speed under each distribution on the same workload, side by side: default, one_device, mirrored.

Workload: the guide's (Iris, hidden_units [10, 10], batch 100, Adagrad 0.05, 5,000 steps, checkpoint +
evaluation and summaries every 100 steps), or a wider network with ``--hidden-units``. ``mirrored`` runs over
every GPU when there are two or more, else over two logical CPU devices (the split is made before TensorFlow
starts). No speed target on CPU: a strategy exists for several GPUs or hosts; on 2 CPU cores it only shows
what the replicas and their all-reduce cost. A GPU machine runs the same script.

    .venv/bin/python benchmarks/bench_distribute.py [--steps 5000] [--repeats 3] [--hidden-units 10,10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from ckptgui.engine.distribute import distribution_for, visible_devices
from ckptgui.engine.training import Progress, Started, Trainer
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig, parse_int_list


def mirrored_devices() -> list[str]:
    """Every GPU when there are two or more, else two logical CPU devices (listing physical ones starts nothing)."""
    gpus = [f"GPU:{index}" for index, _ in enumerate(tf.config.list_physical_devices("GPU"))]
    return gpus if len(gpus) >= 2 else ["CPU:0", "CPU:1"]


def rate(spec: RunSpec) -> float:
    """Steps/s from the first step to the final checkpoint (set-up and compiles excluded, as a warm app)."""
    start = first = begin = 0
    for event in Trainer(spec).events():
        if isinstance(event, Started):
            begin = event.start_step
        if isinstance(event, Progress) and not start:
            start, first = time.perf_counter(), event.step
    return (spec.network.steps - (first - begin)) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden-units", default="10,10")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    mirrored = mirrored_devices()
    distribution_for("mirrored", mirrored)  # first: a CPU split is only possible before TensorFlow starts
    runs = {"default": [], "one_device": [], "mirrored": []}
    for _ in range(args.repeats):  # interleaved, so a busy moment of the machine hits every distribution alike
        for name in runs:
            spec = RunSpec(
                network=NetworkConfig(
                    hidden_units=parse_int_list("hidden_units", args.hidden_units),
                    batch_size=args.batch_size,
                    steps=args.steps,
                ),
                schedule=ScheduleConfig(save_checkpoints_steps=100, keep_checkpoint_max=5, save_summary_steps=100),
                model_dir=tempfile.mkdtemp(prefix=f"bench-distribute-{name}-"),
                seed=1,
                distribution=name,
                devices=mirrored if name == "mirrored" else [],
            )
            runs[name].append(rate(spec))
    print(
        f"workload: Iris [{args.hidden_units}] batch {args.batch_size} Adagrad, {args.steps} steps, "
        "checkpoint+eval and summaries every 100"
    )
    print(f"devices TensorFlow sees: {', '.join(visible_devices())}")
    for name, rates in runs.items():
        over = {"default": "one device, XLA", "one_device": "OneDeviceStrategy, XLA"}.get(
            name, f"MirroredStrategy over {', '.join(mirrored)}, no XLA"
        )
        print(f"{name:<11} {max(rates):>9,.0f} steps/s  ({over}; runs: {', '.join(f'{r:,.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
