"""``ckptgui scalars PATH [--json] [--csv FILE]``: the scalars in the event files under PATH.

Reads with :mod:`ckptgui.formats.events` (no TensorFlow import, so it answers in well under a second).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ckptgui.cli import UsageError
from ckptgui.formats.events import ScalarReader, ScalarSeries, export_csv, is_event_file
from ckptgui.storage import name_of, scheme_of, storage_for

_COLUMNS = ("points", "first step", "last step", "last", "min", "max")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scalars",
        help="summarise or export the scalars in events.out.tfevents.* files",
        description="Summarise the scalars of every run under PATH (every directory holding events.out.tfevents.* "
        "files: '.', eval, train, validation ...): points, first and last step, last, min and max value per tag. "
        "Several files of a run are merged by step; after a restart that rewinds the step, the newer points win.",
    )
    parser.add_argument("path", metavar="PATH", help="a model_dir, a run folder or one events.out.tfevents.* file")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"runs": {RUN: {"tags": {TAG: {count, first_step, last_step, last_value, min, max}}}}} '
        "(NaN and infinite values as null)",
    )
    parser.add_argument(
        "--csv", metavar="FILE", help="write every point as run,tag,step,wall_time,value to FILE ('-': standard output)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = args.path if scheme_of(args.path) else str(Path(args.path))
    if args.csv == "-" and args.json:
        raise UsageError("--json and --csv - would both write to standard output; give --csv a file name")
    found = storage_for(path).info(path)
    if found is None:
        raise UsageError(f"{path}: no such file or directory (give a model_dir, a run folder or an event file)")
    if found.special:
        raise UsageError(f"{path}: not a regular file (a FIFO, socket or device is never opened; give an event file)")
    reader = ScalarReader(path)
    reader.poll()
    for problem in reader.problems.values():
        print(f"ckptgui scalars: warning: {problem}", file=sys.stderr)
    runs = reader.runs()
    if not runs:
        raise UsageError(f"{path}: no events.out.tfevents.* files in it or below it")
    if found.is_file and not reader.file_versions and not any(runs.values()) and found.size:
        kind = "not an event file" if not is_event_file(name_of(path)) else "holds no valid event record"
        raise UsageError(f"{path}: {kind} (expected TFRecords of Event protos, as in events.out.tfevents.*)")
    series = {run: [reader.series(run, tag) for tag in tags] for run, tags in runs.items()}
    if reader.skipped_records:
        print(f"ckptgui scalars: warning: skipped {reader.skipped_records} damaged record(s)", file=sys.stderr)

    if args.csv:
        every = [s for run_series in series.values() for s in run_series]
        if args.csv == "-":
            export_csv(every, sys.stdout)
            return 0
        try:
            count = export_csv(every, args.csv)
        except OSError as exc:
            raise UsageError(f"cannot write {args.csv}: {exc.strerror or exc}") from exc
        if not args.json:
            print(f"wrote {count} points of {len(every)} series to {args.csv}")
    if args.json:
        doc = {
            "runs": {run: {"tags": {s.tag: _stats(s) for s in run_series}} for run, run_series in series.items()},
            "skipped_records": reader.skipped_records,
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
    elif not args.csv:
        _print_table(series)
    return 0


def _number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _stats(s: ScalarSeries) -> dict:
    finite = s.values[np.isfinite(s.values)]
    return {
        "count": len(s),
        "first_step": int(s.steps[0]),
        "last_step": int(s.steps[-1]),
        "last_value": _number(s.values[-1]),
        "min": _number(finite.min()) if len(finite) else None,
        "max": _number(finite.max()) if len(finite) else None,
    }


def _print_table(series: dict[str, list[ScalarSeries]]) -> None:
    for index, (run, run_series) in enumerate(series.items()):
        if index:
            print()
        print(f"run {run}")
        if not run_series:
            print("  (no scalars)")
            continue
        rows = []
        for s in run_series:
            st = _stats(s)
            rows.append(
                (
                    s.tag,
                    str(st["count"]),
                    str(st["first_step"]),
                    str(st["last_step"]),
                    *(f"{v:.6g}" if v is not None else "nan" for v in (float(s.values[-1]), st["min"], st["max"])),
                )
            )
        widths = [max(len(r[i]) for r in [("tag", *_COLUMNS), *rows]) for i in range(len(_COLUMNS) + 1)]
        for r in [("tag", *_COLUMNS), *rows]:
            print("  " + "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
