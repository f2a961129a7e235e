"""Benchmark for issue 17: a folder of 200 runs side by side, each figure beside a reference from the same run.

Generates (into a temporary folder, deleted afterwards) 200 runs x 3 tags x 10,000 points: each run's folder
holds ckptgui's run log (specs differing in hidden_units and learning_rate) and real event files (TFRecords of
``Event`` protos with ``simple_value`` scalars, CRCs and all): ``loss``, ``accuracy`` and ``learning_rate`` at every
step in the run, and ``accuracy`` and ``loss`` in its ``eval/`` every ``--eval-every`` steps (100: an evaluation
per checkpoint, as Estimator and ckptgui's trainer write them; ``--eval-every 1`` makes evaluations as many as
training points, the layout of the first version of this benchmark). They are written by hand (struct + CRC32C),
not by ``tf.summary``: 6 million summaries through TensorFlow would take minutes on this machine. 20 distinct runs
are generated and copied to make the 200.

1. First full table and curves of 10 selected runs, whole process (Python start to the plots drawn), target
   <= 2 s; reference: TensorBoard's ``EventMultiplexer`` loading the same tree (whole process, 10 runs' scalars
   read), when ``tensorboard`` is importable.
2. A poll that finds nothing new, target <= 50 ms (median of 20); reference: ``EventMultiplexer.Reload()`` on the
   same unchanged tree.
3. Heartbeat lag (GUI thread, 10 ms timer) while 10 runs train into the folder, p99, target <= 16 ms; the 10 runs
   are small writer processes appending real event records (the machine's 2 cores cannot hold 10 TF trainers and
   the window); they are selected, so their curves are redrawn at each poll. Reference: the same window with the
   runs view not polling, same writers, same run.

Run: ``.venv/bin/python benchmarks/bench_runs.py [--runs 200] [--points 10000] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST_TARGET_S = 2.0
POLL_TARGET_MS = 50.0
LAG_TARGET_MS = 16.0
DISTINCT = 20
SELECTED = 10


# Event files by hand -----------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _record(payload: bytes) -> bytes:
    from ckptgui.formats.wire import masked_crc32c

    head = struct.pack("<Q", len(payload))
    return head + struct.pack("<I", masked_crc32c(head)) + payload + struct.pack("<I", masked_crc32c(payload))


def _scalar(wall: float, step: int, tag: str, value: float) -> bytes:
    name = tag.encode()
    value_msg = b"\x0a" + _varint(len(name)) + name + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(value_msg)) + value_msg
    return _record(
        b"\x09" + struct.pack("<d", wall) + b"\x10" + _varint(step) + b"\x2a" + _varint(len(summary)) + summary
    )


def _header(wall: float) -> bytes:
    version = b"brain.Event:2"
    return _record(b"\x09" + struct.pack("<d", wall) + b"\x1a" + _varint(len(version)) + version)


def write_events(
    folder: Path, tags: tuple[str, ...], first: int, count: int, seed: int, start: float, every: int = 1
) -> None:
    """``count`` points of each tag at steps ``first``, ``first + every``, ... appended to the folder's event file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events.out.tfevents.{int(start)}.bench"
    parts = [] if path.exists() else [_header(start)]
    for step in range(first, first + count * every, every):
        for k, tag in enumerate(tags):
            value = 1.0 / (1 + 0.001 * step * (1 + seed % 7)) if "loss" in tag else 1 - 0.5 / (1 + 0.001 * step + k)
            parts.append(_scalar(start + step * 0.01, step, tag, value))
    with open(path, "ab") as fh:
        fh.write(b"".join(parts))


def write_run_log_for(folder: Path, index: int, steps: int, finished: bool = True) -> None:
    from ckptgui.modeldir.config import NetworkConfig, RunSpec
    from ckptgui.modeldir.records import RunLog, write_run_log

    network = NetworkConfig(hidden_units=[10 + index % 4 * 10, 10], learning_rate=0.01 * (1 + index % 5), steps=steps)
    history = {"start_step": 0, "network": network.to_dict()}
    if finished:
        history |= {"finished": "2026-01-01T00:00:00", "end_step": steps, "stopped": False}
    history |= {"data_sha256": "0" * 64, "versions": {"ckptgui": "bench", "tensorflow": "2.21.0"}}
    write_run_log(str(folder), RunLog(spec=RunSpec(network=network), history=[history]))


def generate(root: Path, runs: int, points: int, eval_every: int) -> None:
    start = time.time() - 86400
    for index in range(min(DISTINCT, runs)):
        run = root / f"run{index:03d}"
        write_events(run, ("loss", "accuracy", "learning_rate"), 1, points, index, start)
        write_events(run / "eval", ("accuracy", "loss"), eval_every, points // eval_every, index, start, eval_every)
        write_run_log_for(run, index, points)
    for index in range(DISTINCT, runs):
        shutil.copytree(root / f"run{index % DISTINCT:03d}", root / f"run{index:03d}")


# Children ------------------------------------------------------------------------------------------
def child_first(root: str) -> None:
    """Whole process: the runs view's first full table, then 10 selected runs' curves drawn."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from ckptgui.gui.runs_view import RunsView

    pool = QThreadPool()
    view = RunsView(pool)
    view.resize(1400, 900)
    view.show()
    view.open_folder(root)
    expected = sum(1 for _ in Path(root).iterdir())
    while view.model.rowCount() < expected:
        app.processEvents()
        time.sleep(0.001)
    names = sorted(r.name for r in view.model.rows)[:SELECTED]
    view.select_runs(names)
    while view.plots.drawing:  # drawn in slices, the event loop turning between them
        app.processEvents()
    view.plots.graphics.grab()  # the plots painted
    assert len(view.plots.legend_names()) == SELECTED
    print(json.dumps({"rows": view.model.rowCount(), "curves": len(view.plots._curves)}))
    _close(view, pool)


def _close(view: object, pool: object) -> None:
    """The view (no parent: Python owns it) deleted while the QApplication lives, after its pool's last job.

    Left to the interpreter's exit, the QApplication went first and the view's teardown crashed (rc -11).
    """
    view._timer.stop()
    pool.waitForDone()
    view.close()
    from shiboken6 import delete

    delete(view)


def child_tensorboard(root: str) -> None:
    """Whole process: TensorBoard's EventMultiplexer loading the tree, then 10 runs' scalars read."""
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer(size_guidance={"scalars": 0, "tensors": 0})
    multiplexer.AddRunsFromDirectory(root)
    multiplexer.Reload()
    listing = multiplexer.Runs()
    runs = sorted(listing)
    points = 0
    for run in runs[: SELECTED * 2]:  # a run and its eval/ are two runs to TensorBoard
        points += sum(len(multiplexer.Tensors(run, tag)) for tag in listing[run].get("tensors", []))
    started = time.perf_counter()
    multiplexer.Reload()
    print(json.dumps({"runs": len(runs), "points": points, "idle_reload_ms": (time.perf_counter() - started) * 1000}))


def child_writer(folder: str, seconds: float) -> None:
    """A run training into the folder: 3 tags, 20 points each every 100 ms, as a real trainer's summaries."""
    run = Path(folder)
    run.mkdir(parents=True, exist_ok=True)
    write_run_log_for(run, 1, 10**6, finished=False)
    start, step, end = time.time(), 1, time.monotonic() + seconds
    while time.monotonic() < end:
        write_events(run, ("loss", "accuracy"), step, 20, 3, start)
        write_events(run / "eval", ("accuracy",), step, 20, 3, start)
        step += 20
        time.sleep(0.1)


def child_heartbeat(root: str, seconds: float) -> None:
    """10 writers into the folder; the runs view (10 training runs selected) polls; a 10 ms timer's lag."""
    from PySide6.QtCore import QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from ckptgui.gui.runs_view import RunsView

    live = [str(Path(root) / f"live{index}") for index in range(SELECTED)]
    writers = [
        subprocess.Popen([sys.executable, __file__, "--child", "writer", path, str(seconds * 2 + 10)]) for path in live
    ]
    try:
        pool = QThreadPool()
        view = RunsView(pool)
        view.resize(1400, 900)
        view.show()
        view.open_folder(root)
        deadline = time.monotonic() + 60
        while len({r.name for r in view.model.rows} & {Path(p).name for p in live}) < SELECTED:
            app.processEvents()
            time.sleep(0.005)
            if time.monotonic() > deadline:
                raise SystemExit("the live runs did not show up within 60 s")
        view.select_runs([Path(p).name for p in live])

        def lags(for_s: float) -> list[float]:
            out: list[float] = []
            last = [time.perf_counter()]

            def tick() -> None:
                now = time.perf_counter()
                out.append(max(0.0, (now - last[0]) * 1000 - 10))
                last[0] = now

            timer = QTimer(interval=10)
            timer.timeout.connect(tick)
            timer.start()
            end = time.monotonic() + for_s
            while time.monotonic() < end:
                app.processEvents()
                time.sleep(0.0005)
            timer.stop()
            return out

        polling = lags(seconds)
        view._timer.stop()
        pool.waitForDone()
        idle = lags(seconds)
        _close(view, pool)
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    print(json.dumps({"polling": pct(polling, 99), "idle": pct(idle, 99), "ticks": len(polling)}))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else float("nan")


def _child(args: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False, env=os.environ
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--points", type=int, default=10_000, help="points per tag per run")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between evaluation points")
    parser.add_argument("--seconds", type=float, default=10.0, help="heartbeat measured this long, each way")
    parser.add_argument(
        "--skip-tensorboard", action="store_true", help="leave out TensorBoard's references (minutes on 200 runs)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        {"first": child_first, "tensorboard": child_tensorboard}.get(kind, lambda *_: None)(*rest[:1])
        if kind == "writer":
            child_writer(rest[0], float(rest[1]))
        if kind == "heartbeat":
            child_heartbeat(rest[0], float(rest[1]))
        return 0

    try:
        import tensorboard  # noqa: F401

        has_tensorboard = not args.skip_tensorboard
    except ImportError:
        has_tensorboard = False
    root = Path(tempfile.mkdtemp(prefix="ckptgui-bench-runs-"))
    try:
        started = time.perf_counter()
        generate(root, args.runs, args.points, max(1, args.eval_every))
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"generated {args.runs} runs x 3 tags x {args.points:,} points, an evaluation every {args.eval_every} "
              f"steps ({size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip

        wall, found = _child(["first", str(root)])
        line = f"first full table ({found['rows']} rows) + curves of {SELECTED} runs, whole process: {wall:.2f} s"
        print(f"{line} (target <= {FIRST_TARGET_S} s)")
        idle_reference = None
        if has_tensorboard:
            tb_wall, tb = _child(["tensorboard", str(root)])
            idle_reference = tb["idle_reload_ms"]
            print(f"  reference: TensorBoard EventMultiplexer load, whole process: {tb_wall:.2f} s "
                  f"({tb['runs']} runs) -> ckptgui {tb_wall / wall:.1f}x faster")  # fmt: skip
        else:
            print("  reference: tensorboard skipped (--skip-tensorboard) or not importable; no EventMultiplexer figure")
        print("  (tensorboard-data-server's load time is not measured: it answers only over gRPC)")

        from ckptgui.workspace.runs import RunsFolder

        started = time.perf_counter()
        folder = RunsFolder(root)
        folder.poll()
        ends_s = time.perf_counter() - started
        started = time.perf_counter()
        whole = RunsFolder(root)
        whole.load(["."])
        whole.poll()
        whole_s = time.perf_counter() - started
        print(f"first poll of the table (in process): {ends_s:.2f} s; reference: every point read, {whole_s:.2f} s "
              f"-> {whole_s / ends_s:.1f}x faster")  # fmt: skip
        times = []
        for _ in range(20):
            t = time.perf_counter()
            changed = folder.poll()
            times.append((time.perf_counter() - t) * 1000)
            assert not changed
        idle = statistics.median(times)
        print(f"poll that finds nothing new ({args.runs} runs): {idle:.1f} ms median (target <= {POLL_TARGET_MS} ms)")
        if idle_reference is not None:
            print(f"  reference: EventMultiplexer.Reload() on the same unchanged tree: {idle_reference:.1f} ms "
                  f"-> ckptgui {idle_reference / idle:.1f}x faster")  # fmt: skip

        _, beat = _child(["heartbeat", str(root), str(args.seconds)])
        print(f"heartbeat lag p99 while {SELECTED} runs train into the folder (selected, polled): "
              f"{beat['polling']:.1f} ms (target <= {LAG_TARGET_MS} ms; {beat['ticks']} ticks)")  # fmt: skip
        print(f"  reference: same writers, runs view not polling: {beat['idle']:.1f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
