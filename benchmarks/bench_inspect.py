"""Benchmark for issue 3: listing a 2,000-variable, ~1 GB checkpoint (target: under 1 s).

Writes a synthetic checkpoint with ``tf.train.Checkpoint`` into a temporary model_dir (one 64 MB
tensor and 1,999 of 480 KB, plus a ``checkpoint`` state file), then, each in a fresh process:

* ckptgui's listing — ``scan`` + ``list_variables`` + ``global_step`` of the latest checkpoint, which
  parse the ``.index`` without TensorFlow — and the whole ``ckptgui inspect DIR --json`` command;
* the reference in the same run: ``tf.train.load_checkpoint`` + ``get_variable_to_shape_map`` +
  ``get_variable_to_dtype_map``, with and without the ``import tensorflow`` it needs.

Prints each figure (median of ``--repeat`` fresh processes) and the ratios. Exit 1 if over the target.

Run: ``.venv/bin/python benchmarks/bench_inspect.py [--variables 2000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_S = 1.0
LARGE_SHAPE = (4096, 4096)  # 64 MB of float32
SMALL_SHAPE = (120, 1000)  # 480 KB

LISTING = """
import json, sys, time
started = time.perf_counter()
from ckptgui.modeldir.scan import scan
from ckptgui.modeldir.variables import global_step, list_variables
info = scan(sys.argv[1])
variables = list_variables(info.restore_checkpoint)
step = global_step(info.restore_checkpoint, variables)
print(json.dumps({"seconds": time.perf_counter() - started, "variables": len(variables), "step": step,
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""

REFERENCE = """
import json, sys, time
started = time.perf_counter()
import tensorflow as tf
imported = time.perf_counter()
reader = tf.train.load_checkpoint(sys.argv[1])
shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
done = time.perf_counter()
print(json.dumps({"import": imported - started, "listing": done - imported, "variables": len(shapes)}))
"""


def write_checkpoint(model_dir: Path, variables: int) -> tuple[str, int]:
    """A ~1 GB checkpoint at step 1 with a state file; returns (prefix, bytes on disk)."""
    import tensorflow as tf

    from ckptgui.formats.statefile import CheckpointState, write_state

    module = tf.Module()
    module.large = tf.Variable(tf.zeros(LARGE_SHAPE))
    for i in range(variables - 2):  # + the large one + global_step
        setattr(module, f"layer_{i:04d}", tf.Variable(tf.zeros(SMALL_SHAPE), name=f"v{i}"))
    step = tf.Variable(1, dtype=tf.int64)
    prefix = tf.train.Checkpoint(model=module, global_step=step).write(str(model_dir / "model.ckpt-1"))
    write_state(model_dir, CheckpointState("model.ckpt-1", ["model.ckpt-1"]))
    size = sum(p.stat().st_size for p in model_dir.glob("model.ckpt-1.*"))
    return prefix, size


def run_python(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_cli(model_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ckptgui", "inspect", str(model_dir), "--json"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variables", type=int, default=2000, help="variables in the checkpoint (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per figure, median taken")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_inspect_") as tmp:
        model_dir = Path(tmp)
        started = time.perf_counter()
        prefix, size = write_checkpoint(model_dir, args.variables)
        print(f"wrote {args.variables:,} variables, {size / 1e9:.2f} GB in {time.perf_counter() - started:.1f} s")

        listings = [run_python(LISTING, str(model_dir)) for _ in range(args.repeat)]
        assert all(r["variables"] == args.variables and r["step"] == 1 for r in listings), listings
        assert not any(r["tensorflow_imported"] for r in listings)
        cli = [timed_cli(model_dir) for _ in range(args.repeat)]
        references = [run_python(REFERENCE, prefix) for _ in range(args.repeat)]
        assert all(r["variables"] == args.variables + 1 for r in references)  # + the object graph

        listing = statistics.median(r["seconds"] for r in listings)
        command = statistics.median(cli)
        tf_listing = statistics.median(r["listing"] for r in references)
        tf_import = statistics.median(r["import"] for r in references)
        print(f"ckptgui listing (scan + variables + global step, no TensorFlow): {listing * 1000:8.1f} ms")
        print(f"ckptgui inspect --json, whole process:                          {command * 1000:8.1f} ms")
        print(f"reference: tf.train.load_checkpoint + shape/dtype maps:         {tf_listing * 1000:8.1f} ms")
        print(f"reference: import tensorflow (needed before it):                {tf_import * 1000:8.1f} ms")
        print(f"ratio listing / reference listing:              {listing / tf_listing:6.2f}x")
        print(f"ratio listing / reference including the import: {listing / (tf_listing + tf_import):6.3f}x")
        verdict = "OK" if command < TARGET_S else "OVER TARGET"
        print(f"target: inspect under {TARGET_S:.0f} s -> {verdict} ({command:.2f} s for the whole command)")
        return 0 if command < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
