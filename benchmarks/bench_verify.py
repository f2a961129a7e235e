"""Benchmark for issues 11 and 13: ``verify`` of many checkpoints grows linearly and keeps up with TensorFlow.

Writes one small checkpoint with ``tf.train.Checkpoint`` (a few variables, a step counter), copies its files
to ``model.ckpt-<step>`` for ``--count`` steps in a temporary model_dir and writes a ``checkpoint`` state file
listing them all. Then, in this process, with TensorFlow imported first so neither side pays for the import:

* the reference: ``tf.train.load_checkpoint(prefix)`` and ``get_tensor`` of every key of
  ``get_variable_to_shape_map()``, for every checkpoint;
* ``ckptgui.modeldir.verify.verify(model_dir)``: the same bytes read and CRC-checked without TensorFlow, plus the
  scan and the health verdicts.

Each is timed ``--repeat`` times alternately (the page cache is warm for both) and the medians printed with
``verify/tf = x.xx``. Then the same as a user meets it, whole processes: ``ckptgui verify DIR --json`` against
``python -c "import tensorflow; read every tensor of every checkpoint in DIR's state file"``, printed as
``process verify/tf``. The target (at most 1.00: verify no slower than TensorFlow reading the same tensors) is
judged on the whole processes, the comparison the issue's reference figure (TensorFlow reading every tensor of 1,000
checkpoints in 3.25 s, its import included) was made with; the in-process ratio is printed beside it.
``--counts 250,1000,2000`` runs several sizes to show that the time per checkpoint stays flat (linear growth);
``--big-mb N`` adds one checkpoint of four float32 tensors totalling N MB (0: none), where disk speed, not the
per-checkpoint overhead, decides.

Run: ``.venv/bin/python benchmarks/bench_verify.py [--count 1000 | --counts 250,1000,2000] [--big-mb 1024]
[--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_RATIO = 1.0


def write_model_dir(model_dir: Path, count: int) -> list[str]:
    """``count`` copies of one small checkpoint, steps 1..count, all listed in the state file; their prefixes."""
    import tensorflow as tf

    from ckptgui.formats.statefile import CheckpointState, write_state

    module = tf.Module()
    module.kernel = tf.Variable(tf.random.normal((4, 10)))
    module.bias = tf.Variable(tf.zeros((10,)))
    module.logits = tf.Variable(tf.random.normal((10, 3)))
    step = tf.Variable(1, dtype=tf.int64)
    with tempfile.TemporaryDirectory(prefix="bench_verify_source_") as source:
        written = Path(tf.train.Checkpoint(model=module, global_step=step).write(f"{source}/model.ckpt-1"))
        files = [(p, p.name.replace(written.name, "", 1)) for p in written.parent.glob(f"{written.name}.*")]
        names = [f"model.ckpt-{n}" for n in range(1, count + 1)]
        for name in names:
            for path, suffix in files:
                shutil.copyfile(path, model_dir / f"{name}{suffix}")
    write_state(model_dir, CheckpointState(names[-1], names))
    return [str(model_dir / name) for name in names]


def write_big_checkpoint(model_dir: Path, megabytes: int) -> list[str]:
    """One checkpoint of four float32 tensors totalling ``megabytes`` MB, listed in the state file; its prefix."""
    import tensorflow as tf

    from ckptgui.formats.statefile import CheckpointState, write_state

    module = tf.Module()
    rows = max(1, megabytes * (1 << 20) // 4 // 4 // 1024)
    module.weights = [tf.Variable(tf.random.normal((rows, 1024))) for _ in range(4)]
    prefix = tf.train.Checkpoint(model=module).write(str(model_dir / "model.ckpt-1"))
    write_state(model_dir, CheckpointState("model.ckpt-1", ["model.ckpt-1"]))
    return [prefix]


def read_with_tensorflow(prefixes: list[str]) -> int:
    """Every tensor of every checkpoint through TensorFlow's reader; the number of tensors read."""
    import tensorflow as tf

    tensors = 0
    for prefix in prefixes:
        reader = tf.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
            tensors += 1
    return tensors


TF_READ_ALL = """
import sys, tensorflow as tf
state = tf.train.get_checkpoint_state(sys.argv[1])
for prefix in state.all_model_checkpoint_paths:
    reader = tf.train.load_checkpoint(prefix)
    for key in reader.get_variable_to_shape_map():
        reader.get_tensor(key)
"""


def time_process(command: list[str]) -> float:
    """Wall seconds of one process, from spawn to exit; it must succeed."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - started


def measure(write: Callable[[Path], list[str]], tensors_each: int, repeat: int) -> tuple[float, float, float, float]:
    """Median seconds of (verify, TensorFlow's read) in this process, then of (``ckptgui verify``, a TensorFlow
    script reading every tensor) as whole processes, for the model_dir ``write`` fills."""
    from ckptgui.modeldir.verify import verify

    with tempfile.TemporaryDirectory(prefix="bench_verify_") as tmp:
        model_dir = Path(tmp)
        started = time.perf_counter()
        prefixes = write(model_dir)
        print(f"{len(prefixes):,} checkpoints written in {time.perf_counter() - started:.1f} s")
        ours, reference = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            tensors = read_with_tensorflow(prefixes)
            reference.append(time.perf_counter() - started)
            started = time.perf_counter()
            results = verify(model_dir)
            ours.append(time.perf_counter() - started)
            assert len(results) == len(prefixes) and all(c.status == "ok" for c in results), "verify found damage"
        assert tensors == len(prefixes) * tensors_each
        env_python = [sys.executable]
        ours_process, reference_process = [], []
        for _ in range(repeat):
            reference_process.append(time_process([*env_python, "-c", TF_READ_ALL, str(model_dir)]))
            ours_process.append(time_process([*env_python, "-m", "ckptgui", "verify", str(model_dir), "--json"]))
        return (
            statistics.median(ours),
            statistics.median(reference),
            statistics.median(ours_process),
            statistics.median(reference_process),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--count", type=int, default=1000, help="checkpoints in the model_dir (default 1000)")
    sizes.add_argument("--counts", help="several sizes, comma-separated, e.g. 250,1000,2000")
    parser.add_argument(
        "--big-mb", type=int, default=1024, help="one checkpoint of this many MB (default 1024; 0: none)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side, median taken (default 3)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.counts.split(",")] if args.counts else [args.count]

    import tensorflow  # noqa: F401 - imported before any timing, so neither side pays for it

    worst = 0.0
    for count in counts:
        # 3 variables, the step, the object graph
        ours, reference, ours_process, reference_process = measure(
            lambda model_dir, count=count: write_model_dir(model_dir, count), 5, args.repeat
        )
        worst = max(worst, ours_process / reference_process)
        print(
            f"{count:6,} checkpoints: verify {ours:7.2f} s ({ours / count * 1000:5.2f} ms each), "
            f"tensorflow {reference:7.2f} s ({reference / count * 1000:5.2f} ms each), verify/tf = "
            f"{ours / reference:.2f}; processes: ckptgui verify {ours_process:5.2f} s, tensorflow script "
            f"{reference_process:5.2f} s, process verify/tf = {ours_process / reference_process:.2f}"
        )
    if args.big_mb:
        # 4 weights, the object graph
        ours, reference, ours_process, reference_process = measure(
            lambda model_dir: write_big_checkpoint(model_dir, args.big_mb), 5, args.repeat
        )
        worst = max(worst, ours_process / reference_process)
        print(
            f"one {args.big_mb:,} MB checkpoint: verify {ours:7.2f} s ({args.big_mb / ours:6.0f} MB/s), "
            f"tensorflow {reference:7.2f} s ({args.big_mb / reference:6.0f} MB/s), verify/tf = "
            f"{ours / reference:.2f}; processes: ckptgui verify {ours_process:5.2f} s, tensorflow script "
            f"{reference_process:5.2f} s, process verify/tf = {ours_process / reference_process:.2f}"
        )
    verdict = "OK" if worst <= TARGET_RATIO else "OVER TARGET"
    print(f"target: process verify/tf <= {TARGET_RATIO:.2f} -> {verdict}")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
