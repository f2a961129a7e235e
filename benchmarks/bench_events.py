"""Benchmark for issue 4: reading scalars from an event file, ckptgui vs TensorBoard's EventAccumulator.

Writes 3 scalar tags x 200,000 steps (about 40 MB) with ``tf.summary`` into a temporary directory, reads
the file with ``EventAccumulator`` (size guidance 0: keep everything) and with ``ckptgui.formats.events``
in the same run, checks that both got the same points, and prints both rates and their ratio (target:
>= 10x). Then, with the writer still open, appends 1,000 points at a time and times the ``poll()`` that
picks them up (target: < 10 ms on a file already holding 600,000 points).

Run: ``.venv/bin/python benchmarks/bench_events.py [--steps N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TAGS = ("loss", "accuracy", "learning_rate")
RATE_TARGET = 10.0
POLL_TARGET_MS = 10.0


def scalar_writer(tf, writer, tags=TAGS):
    """A function writing ``count`` steps from ``start`` of each tag with tf.summary.scalar, then flushing.

    The loop runs inside one tf.function (a Python loop would take minutes for 600,000 summaries);
    inside it the tags get a ``while/`` name scope, as any tf.summary call in a graph loop does.
    """

    @tf.function
    def run(start, count):
        for i in tf.range(start, start + count):
            x = tf.cast(i, tf.float32)
            for k, tag in enumerate(tags):
                tf.summary.scalar(tag, tf.math.sin(x * 0.001 + k) + 0.001 * x, step=i)

    def write(start: int, count: int) -> None:
        with writer.as_default():
            run(tf.constant(start, tf.int64), tf.constant(count, tf.int64))
        writer.flush()

    return write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="steps per tag (default 200,000)")
    parser.add_argument("--polls", type=int, default=20, help="appends of 1,000 points to time (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="full reads by ckptgui, median taken (default 5)")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    from ckptgui.formats.events import ScalarReader, read_scalars

    with tempfile.TemporaryDirectory(prefix="bench_events_") as tmp:
        logdir = Path(tmp) / "run"
        writer = tf.summary.create_file_writer(str(logdir), max_queue=1000, flush_millis=3_600_000)
        write_steps = scalar_writer(tf, writer)
        t0 = time.perf_counter()
        write_steps(0, args.steps)
        (event_file,) = logdir.glob("events.out.tfevents.*")
        size_mb = event_file.stat().st_size / 1e6
        print(
            f"wrote {len(TAGS)} tags x {args.steps:,} steps with tf.summary: {size_mb:.1f} MB in "
            f"{time.perf_counter() - t0:.1f} s ({event_file.name})"
        )

        t0 = time.perf_counter()
        acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        tb_s = time.perf_counter() - t0
        tb = {tag: acc.Tensors(tag) for tag in acc.Tags()["tensors"]}
        tb_points = sum(len(events) for events in tb.values())

        our_runs = []  # several runs, the median counts: a 0.2 s figure is easily bent by other load on the machine
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ours = read_scalars(logdir)["."]
            our_runs.append(time.perf_counter() - t0)
        our_s = statistics.median(our_runs)
        our_points = sum(len(s) for s in ours.values())

        # Same points, same numbers.
        assert sorted(tb) == sorted(ours) and len(ours) == len(TAGS), (sorted(tb), sorted(ours))
        for tag, events in tb.items():
            steps = np.array([e.step for e in events])
            values = np.array([tensor_util.make_ndarray(e.tensor_proto).item() for e in events])
            walls = np.array([e.wall_time for e in events])
            s = ours[tag]
            assert np.array_equal(steps, s.steps) and np.array_equal(values, s.values), tag
            assert np.array_equal(walls, s.wall_times), tag

        tb_rate, our_rate = tb_points / tb_s, our_points / our_s
        ratio = our_rate / tb_rate
        print(f"TensorBoard EventAccumulator: {tb_points:,} points in {tb_s:.3f} s = {tb_rate:,.0f} points/s")
        print(
            f"ckptgui ScalarReader:         {our_points:,} points in {our_s:.3f} s = {our_rate:,.0f} points/s "
            f"(median of {len(our_runs)}: {', '.join(f'{t:.3f}' for t in our_runs)} s)"
        )
        print(
            f"ratio: {ratio:.1f}x EventAccumulator (target >= {RATE_TARGET:.0f}x) "
            f"{'OK' if ratio >= RATE_TARGET else 'MISSED'}"
        )

        # Incremental: the writer appends to the same file while a reader follows it.
        reader = ScalarReader(logdir)
        reader.poll()
        per_tag = -(-1000 // len(TAGS))  # 334 steps x 3 tags = 1,002 points per append
        timings = []
        step = args.steps
        for _ in range(args.polls):
            write_steps(step, per_tag)
            step += per_tag
            t0 = time.perf_counter()
            new = reader.poll()
            timings.append((time.perf_counter() - t0) * 1e3)
            got = sum(len(s) for s in new)
            assert got == per_tag * len(TAGS), got
        t0 = time.perf_counter()
        assert reader.poll() == []
        idle_ms = (time.perf_counter() - t0) * 1e3
        median, worst = statistics.median(timings), max(timings)
        print(
            f"poll of {per_tag * len(TAGS):,} appended points on a file holding {our_points:,}+: "
            f"median {median:.2f} ms, worst {worst:.2f} ms over {args.polls} polls "
            f"(target < {POLL_TARGET_MS:.0f} ms) {'OK' if median < POLL_TARGET_MS else 'MISSED'}"
        )
        print(f"poll with nothing new: {idle_ms:.3f} ms")
        writer.close()
    return 0 if ratio >= RATE_TARGET and median < POLL_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
