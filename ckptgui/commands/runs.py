"""``ckptgui runs PARENT [--json] [--csv FILE]``: one row per model_dir below PARENT, the runs view's table.

Reads with :mod:`ckptgui.workspace.runs` (no TensorFlow import).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ckptgui.cli import UsageError
from ckptgui.modeldir.runs import cell_text, table_columns, write_table_csv
from ckptgui.storage import scheme_of, storage_for
from ckptgui.workspace.runs import RunsFolder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="the runs (model_dirs) below a folder side by side: status, what differs, steps, best eval",
        description="One row per model_dir below PARENT (any depth; ckptgui's, Estimator's, Keras logs, a "
        "TensorBoard log tree): status (training, finished, stopped, failed, stale), the spec fields that differ "
        "between the runs, steps, checkpoints (healthy/damaged), last and best evaluation accuracy and loss with "
        "their steps, wall time and disk size. 'ckptgui scalars PARENT --csv FILE' exports every run's scalars.",
    )
    parser.add_argument("parent", metavar="PARENT", help="a folder holding model_dirs (local, gs:// or s3://)")
    parser.add_argument("--json", action="store_true", help='print {"parent", "columns", "runs": [{COLUMN: value}]}')
    parser.add_argument("--csv", metavar="FILE", help="write the table to FILE as CSV ('-': standard output)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    parent = args.parent if scheme_of(args.parent) else str(Path(args.parent))
    if args.csv == "-" and args.json:
        raise UsageError("--json and --csv - would both write to standard output; give --csv a file name")
    found = storage_for(parent).info(parent)
    if found is None or not found.is_dir:
        what = "no such folder" if found is None else "not a folder"
        raise UsageError(f"{parent}: {what} (give a folder that holds model_dirs)")
    folder = RunsFolder(parent)
    folder.poll()
    for problem in folder.problems.values():
        print(f"ckptgui runs: warning: {problem}", file=sys.stderr)
    rows = folder.rows()
    if not rows:
        raise UsageError(f"{parent}: no model_dir in it or below it (no checkpoints, run log or event files)")
    columns = table_columns(rows)
    if args.csv:
        if args.csv == "-":
            write_table_csv(rows, columns, sys.stdout)
            return 0
        try:
            write_table_csv(rows, columns, args.csv)
        except OSError as exc:
            raise UsageError(f"cannot write {args.csv}: {exc.strerror or exc}") from exc
        if not args.json:
            print(f"wrote {len(rows)} runs to {args.csv}")
    if args.json:
        doc = {
            "parent": folder.parent,
            "columns": columns,
            "runs": [{**{c: _plain(r.value(c)) for c in columns}, "path": r.path, "problem": r.problem} for r in rows],
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
    elif not args.csv:
        table = [columns, *([cell_text(r, c) for c in columns] for r in rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
        for line in table:
            print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
        for row in rows:
            if row.problem:
                print(f"ckptgui runs: warning: {row.name}: {row.problem}", file=sys.stderr)
    return 0


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value
