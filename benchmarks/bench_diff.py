"""Benchmark for issues 3 and 13: diff of two 2,000-variable, ~1 GB checkpoints without TensorFlow — speed
against TensorFlow's plain read of the same tensors, and peak memory.

Writes checkpoints A and B (one 64 MB tensor and 1,999 of 480 KB each; B = A + noise) with
``tf.train.Checkpoint`` into a temporary directory, then in a fresh process:

* reads both ``.data`` files once to warm the page cache;
* the reference: ``tf.train.load_checkpoint`` and ``get_tensor`` of every key of both checkpoints (TensorFlow
  imported beforehand, so its import is not counted) — what ``diff`` must read at least as fast (ratio >= 1.0);
* runs ``diff(A, B)`` — the first diff in that process — with a thread sampling the
  process RSS every millisecond and with tracemalloc on: peak RSS above the level before the diff,
  and the tracemalloc peak (numpy's buffers), each as a multiple of the largest tensor (target: under
  3x);
* times ``--repeat`` rounds of TensorFlow's read and a diff, alternately (the load of a shared machine then slows
  both alike), prints the medians, the diff's throughput (bytes of both checkpoints / second) and the ratio of the
  medians TensorFlow's read time / diff time (target: at least 1.00), with each round's ratio.

Run: ``.venv/bin/python benchmarks/bench_diff.py [--variables 2000] [--repeat 5]``
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

TARGET_RATIO = 3.0
TARGET_SPEED = 1.0  # TensorFlow's read time / diff time
LARGE_SHAPE = (4096, 4096)  # 64 MB of float32: the largest tensor
SMALL_SHAPE = (120, 1000)  # 480 KB

MEASURE = """
import json, os, sys, threading, time, tracemalloc
from ckptgui.modeldir.tensors import diff
import tensorflow  # imported before any baseline is taken (for the reference read only)

a, b = sys.argv[1], sys.argv[2]
files = [p for p in (a, b) for p in __import__("glob").glob(p + ".data-*")]
total = sum(os.path.getsize(p) for p in files)

def plain_read():
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(16 << 20):
                pass

plain_read()  # warm the page cache for both
started = time.perf_counter(); plain_read(); plain = time.perf_counter() - started

def tf_read_all():
    for prefix in (a, b):
        reader = tensorflow.train.load_checkpoint(prefix)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)

tf_read_all()

page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * page

peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.001)

baseline = rss()  # the first diff in this process: nothing allocated by an earlier one is reused
thread = threading.Thread(target=sample); thread.start()
tracemalloc.start()
diff(a, b)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
stop.set(); thread.join()
tf_times, diff_times = [], []
for _ in range(int(sys.argv[3])):  # alternately: a machine whose load changes slows both alike
    started = time.perf_counter(); tf_read_all(); tf_times.append(time.perf_counter() - started)
    started = time.perf_counter(); report = diff(a, b); diff_times.append(time.perf_counter() - started)
moved = [r for r in report.variables if r.delta_l2]
print(json.dumps({"bytes": total, "plain_s": plain, "tf_times": tf_times, "diff_times": diff_times,
                  "rss_peak": peak[0] - baseline,
                  "traced_peak": traced, "variables": len(report.variables), "moved": len(moved),
                  "summary": report.summary}))
"""


def write_pair(folder: Path, variables: int) -> tuple[str, str]:
    import tensorflow as tf

    module = tf.Module()
    module.large = tf.Variable(tf.random.normal(LARGE_SHAPE, seed=1))
    for i in range(variables - 1):
        setattr(module, f"layer_{i:04d}", tf.Variable(tf.random.normal(SMALL_SHAPE, seed=i)))
    checkpoint = tf.train.Checkpoint(model=module)
    a = checkpoint.write(str(folder / "a" / "model.ckpt-1"))
    for variable in module.trainable_variables:
        variable.assign_add(tf.random.normal(variable.shape, stddev=0.01))
    b = checkpoint.write(str(folder / "b" / "model.ckpt-2"))
    return a, b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variables", type=int, default=2000, help="variables per checkpoint (default 2000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed rounds, TensorFlow and diff alternately (default 5)"
    )
    args = parser.parse_args(argv)
    largest = 4 * LARGE_SHAPE[0] * LARGE_SHAPE[1]

    with tempfile.TemporaryDirectory(prefix="bench_diff_") as tmp:
        started = time.perf_counter()
        a, b = write_pair(Path(tmp), args.variables)
        print(f"wrote A and B: {args.variables:,} variables each in {time.perf_counter() - started:.1f} s")
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, a, b, str(args.repeat)], capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["variables"] == result["moved"] == args.variables, result
    mb = result["bytes"] / 1e6
    diff_s, tf_s = statistics.median(result["diff_times"]), statistics.median(result["tf_times"])
    diff_rate, plain_rate = mb / diff_s, mb / result["plain_s"]
    rss_ratio, traced_ratio = result["rss_peak"] / largest, result["traced_peak"] / largest
    print(f"checkpoints A + B: {mb:,.0f} MB, largest tensor {largest / 1e6:.0f} MB")
    print(f"diff:       {diff_s:6.2f} s  {diff_rate:8.0f} MB/s  (median of {args.repeat})")
    print(f"plain read: {result['plain_s']:6.2f} s  {plain_rate:8.0f} MB/s  (same files, page cache warm)")
    print(f"ratio diff / plain read: {diff_rate / plain_rate:.2f}")
    speed_ratio = tf_s / diff_s
    rounds = " ".join(f"{t / d:.2f}" for t, d in zip(result["tf_times"], result["diff_times"], strict=True))
    print(f"tensorflow get_tensor of every tensor of both: {tf_s:6.2f} s  (median of {args.repeat})")
    print(f"ratio tensorflow read time / diff time: {speed_ratio:.2f} (target: at least {TARGET_SPEED:.2f})")
    print(f"ratio of each round: {rounds}")
    print(f"peak RSS above baseline during diff: {result['rss_peak'] / 1e6:6.0f} MB = {rss_ratio:.2f}x largest tensor")
    print(f"tracemalloc peak during diff:        {result['traced_peak'] / 1e6:6.0f} MB = {traced_ratio:.2f}x")
    print(f"summary: {result['summary']}")
    ok = rss_ratio < TARGET_RATIO and speed_ratio >= TARGET_SPEED
    print(
        f"targets: peak memory under {TARGET_RATIO:.0f}x the largest tensor, diff at least as fast as TensorFlow's "
        f"read -> {'OK' if ok else 'OVER TARGET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
