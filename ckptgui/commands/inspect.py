"""``ckptgui inspect | verify | diff | check | eval | predict``: read any model_dir from the command line.

Every command takes a model_dir, a checkpoint prefix (``model.ckpt-200``),
``DIR@STEP`` or a Keras ``*.weights.h5`` / ``*.keras`` file, prints a readable report or,
with ``--json``, a stable JSON object. Bad input exits 2 with one line saying
what is wrong; ``verify`` exits 1 when a checkpoint is damaged and ``check``
exits 3 when the network does not fit. ``inspect``, ``verify`` and ``check`` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from ckptgui.cli import UsageError
from ckptgui.commands.train import EXIT_INCOMPATIBLE, add_network_arguments, spec_from_flags
from ckptgui.engine.inference import SPLITS
from ckptgui.modeldir.config import ConfigError, DataConfig, RunSpec
from ckptgui.modeldir.data import DataError
from ckptgui.modeldir.records import RunLogError
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, ModelDirInfo, scan
from ckptgui.modeldir.tensors import diff
from ckptgui.modeldir.variables import VariableInfo, global_step, infer_network, list_variables
from ckptgui.modeldir.verify import verify
from ckptgui.storage import name_of, storage_for
from ckptgui.units import human_size

EXIT_DAMAGED = 1
PATH_HELP = (
    "a model_dir, a checkpoint prefix (e.g. DIR/model.ckpt-200), DIR@STEP, or a Keras *.weights.h5 or *.keras file"
)
BAD_INPUT = (CheckpointError, ConfigError, DataError, RunLogError)


def register(subparsers: argparse._SubParsersAction) -> None:
    inspect = subparsers.add_parser(
        "inspect",
        help="list a model_dir's checkpoints, their health, variables and network",
        description="List the checkpoints of PATH with their status, and the variables and network of the one a "
        "restore would use (or of the checkpoint PATH names). Reads no tensor data.",
    )
    inspect.add_argument("path", help=PATH_HELP)
    _json_flag(inspect)
    inspect.set_defaults(func=_inspect)

    verify = subparsers.add_parser(
        "verify",
        help="read every tensor of every checkpoint; exit 1 if any is damaged",
        description="Read every tensor (checking its CRC) of every checkpoint in PATH. Exit 0 when every "
        "checkpoint is healthy (ok or unlisted), 1 when one is incomplete, corrupt or missing. Checkpoints in a "
        "format ckptgui does not read (TF1 V1) are listed as unsupported, not counted as damage.",
    )
    verify.add_argument("path", help=PATH_HELP)
    _json_flag(verify)
    verify.set_defaults(func=_verify)

    diff = subparsers.add_parser(
        "diff",
        help="compare two checkpoints variable by variable",
        description="How checkpoint B differs from A, per variable: shapes, L2 norms, L2 norm of the difference, "
        "max absolute difference, relative change, cosine similarity. A and B are prefixes or DIR@STEP.",
    )
    diff.add_argument("a", help="checkpoint A: " + PATH_HELP)
    diff.add_argument("b", help="checkpoint B: " + PATH_HELP)
    diff.add_argument("--slots", action="store_true", help="compare optimizer slots too")
    _json_flag(diff)
    diff.set_defaults(func=_diff)

    check = subparsers.add_parser(
        "check",
        help="does a network config fit a checkpoint? exit 3 if not",
        description="Compare the variables a network config needs (flags as for 'train') with what PATH's "
        "checkpoint stores. Exit 0 when it fits, 3 when it does not.",
    )
    check.add_argument("path", help=PATH_HELP)
    add_network_arguments(check, training=False)
    _json_flag(check)
    check.set_defaults(func=_check)

    evaluate = subparsers.add_parser(
        "eval",
        help="accuracy and mean loss of any step (ours or Estimator's)",
        description="Restore a checkpoint (the newest healthy one, or --step N) into a fresh model and evaluate "
        "it on the test split of the data, as training and the window do (--split all or train for other rows). "
        "Estimator DNNClassifier checkpoints are read too.",
    )
    evaluate.add_argument("path", help=PATH_HELP)
    evaluate.add_argument("--step", type=int, help="the checkpoint step (default: the newest healthy one)")
    evaluate.add_argument("--data", help="'iris' or a CSV file (default: the run's data, else iris)")
    evaluate.add_argument("--label-column", help="label column of a CSV with a header (default: the last column)")
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="test: every fifth row, the rows training evaluates on (default); train: the others; all: every row",
    )
    _json_flag(evaluate)
    evaluate.set_defaults(func=_eval)

    predict = subparsers.add_parser(
        "predict",
        help="classify feature rows with any step",
        description="Restore a checkpoint and print the class and probabilities for each --features row. "
        "Columns are in the run's data order (Iris: SepalLength, SepalWidth, PetalLength, PetalWidth).",
    )
    predict.add_argument("path", help=PATH_HELP)
    predict.add_argument("--step", type=int, help="the checkpoint step (default: the newest healthy one)")
    predict.add_argument(
        "--features",
        action="append",
        required=True,
        metavar="V1,V2,...",
        help="one row of comma-separated numbers; repeat for more rows",
    )
    _json_flag(predict)
    predict.set_defaults(func=_predict)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")


def _emit(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _step_text(step: int | None) -> str:
    return "-" if step is None else str(step)


# inspect -----------------------------------------------------------------------------------------------


def _checkpoint_json(checkpoint: CheckpointInfo) -> dict[str, Any]:
    return checkpoint.json_fields()


def _variable_json(info: VariableInfo) -> dict[str, Any]:
    data = asdict(info)
    data["slots"] = {name: _variable_json(slot) for name, slot in info.slots.items()}
    return data


def _inspect(args: argparse.Namespace) -> int:
    try:
        info = scan(args.path)
        chosen = _chosen(args.path, info)
        variables = list_variables(chosen) if chosen else []
        step_value = global_step(chosen, variables) if chosen else None
    except BAD_INPUT as exc:
        raise UsageError(str(exc)) from None
    network = infer_network(variables)
    network_json = None
    if network is not None:
        network_json = {
            "hidden_units": network.hidden_units,
            "n_features": network.n_features,
            "n_classes": network.n_classes,
            "optimizer": network.optimizer,
            "outside_dnn": network.unexplained,
        }
    if args.json:
        _emit(
            {
                "path": info.path,
                "format": info.format,
                "latest_step": info.latest_step,
                "restore_step": info.restore_step,
                "checkpoints": [_checkpoint_json(c) for c in info.checkpoints],
                "event_runs": info.event_runs,
                "problems": info.problems,
                "selected": chosen.prefix if chosen else None,
                "global_step": step_value,
                "network": network_json,
                "variables": [_variable_json(v) for v in variables],
            }
        )
        return 0
    print(f"{info.path}  ({info.format})")
    print(f"latest step: {_step_text(info.latest_step)}   restore step: {_step_text(info.restore_step)}")
    if info.checkpoints:
        rows = [["STEP", "STATUS", "SIZE", "MODIFIED", "CHECKPOINT"]]
        for c in info.checkpoints:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.mtime)) if c.mtime else "-"
            name = name_of(c.prefix) + ("" if c.listed or c.format == "keras-h5" else " (unlisted)")
            rows.append([_step_text(c.step), c.status, human_size(c.total_bytes), when, name])
            if c.reason and c.status != "unlisted":
                rows.append(["", "", "", "", f"  {c.reason}"])
        print("checkpoints:")
        print("\n".join(_table(rows)))
    else:
        print("checkpoints: none")
    if info.event_runs:
        print(f"events: {', '.join(info.event_runs)}")
    if chosen is not None:
        if network is not None:
            optimizer = f", optimizer {network.optimizer}" if network.optimizer else ""
            outside = network.unexplained
            extra = f"; plus {len(outside)} weights outside the DNN ({', '.join(outside)})" if outside else ""
            print(
                f"network: hidden_units {network.hidden_units}, {network.n_features} features, "
                f"{network.n_classes} classes{optimizer}{extra}"
            )
        print(f"global step: {_step_text(step_value)}")
        print(f"variables of {name_of(chosen.prefix)}:")
        rows = [["NAME", "SHAPE", "DTYPE", "SIZE"]]
        for v in variables:
            rows.append([v.name, str(v.shape), v.dtype, human_size(v.nbytes)])
            rows += [[f"  slot {slot}", str(s.shape), s.dtype, human_size(s.nbytes)] for slot, s in v.slots.items()]
        print("\n".join(_table(rows)))
    for problem in info.problems:
        print(f"problem: {problem}")
    return 0


def _chosen(path: str, info: ModelDirInfo) -> CheckpointInfo | None:
    """The checkpoint whose variables are shown: the one PATH names, else the one a restore would use."""
    if len(info.checkpoints) == 1 and not _is_dir(path):
        only = info.checkpoints[0]
        return only if only.usable else None
    return info.restore_checkpoint


def _is_dir(path: str) -> bool:
    found = storage_for(path).info(path)
    return found is not None and found.is_dir


# verify ------------------------------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    show_progress = not args.json and sys.stderr.isatty()
    last = [0.0]

    def progress(done: int, total: int, checkpoint: CheckpointInfo) -> None:
        now = time.monotonic()
        if show_progress and now - last[0] > 0.2:
            last[0] = now
            print(f"\rverifying {name_of(checkpoint.prefix)}: {done * 100 // max(total, 1)}%", end="", file=sys.stderr)

    try:
        results = verify(args.path, on_progress=progress)
    except BAD_INPUT as exc:
        raise UsageError(str(exc)) from None
    if show_progress:
        print("\r\033[K", end="", file=sys.stderr)
    if not results:
        raise UsageError(f"{args.path}: holds no checkpoints to verify")
    unsupported = [c for c in results if c.status == "unsupported"]  # not read, so neither healthy nor damaged
    if len(unsupported) == len(results):
        raise UsageError(f"{args.path}: holds no checkpoints ckptgui can verify ({unsupported[0].reason})")
    healthy = all(c.usable for c in results if c.status != "unsupported")
    if args.json:
        _emit(
            {
                "path": args.path,
                "ok": healthy,
                "checkpoints": [
                    {"step": c.step, "status": c.status, "reason": c.reason, "prefix": c.prefix} for c in results
                ],
            }
        )
    else:
        rows = [["STEP", "STATUS", "CHECKPOINT", "PROBLEM"]]
        rows += [[_step_text(c.step), c.status, name_of(c.prefix), c.reason] for c in results]
        print("\n".join(_table(rows, indent="")))
        damaged = sum(1 for c in results if not c.usable) - len(unsupported)
        read = len(results) - len(unsupported)
        summary = f"{read} checkpoints, {damaged} damaged" if damaged else f"all {read} checkpoints ok"
        if unsupported:
            summary = f"{summary.removeprefix('all ')}, {len(unsupported)} not read (unsupported format)"
        print(summary)
    return 0 if healthy else EXIT_DAMAGED


# diff ----------------------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _diff(args: argparse.Namespace) -> int:
    try:
        report = diff(args.a, args.b, include_slots=args.slots)
    except BAD_INPUT as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _emit(
            {
                "a": report.a,
                "b": report.b,
                "summary": report.summary,
                "variables": [asdict(v) for v in report.variables],
                "layers": [asdict(layer) for layer in report.layers],
                "bytes_read": report.bytes_read,
                "seconds": report.seconds,
            }
        )
        return 0
    print(f"A: {report.a}\nB: {report.b}")
    rows = [["VARIABLE", "SHAPE A", "SHAPE B", "|A|", "|B-A|", "MAX |B-A|", "REL", "COS"]]
    for v in report.variables:
        rows.append(
            [
                v.name,
                str(v.shape_a) if v.in_a else "-",
                str(v.shape_b) if v.in_b else "-",
                _number(v.norm_a),
                _number(v.delta_l2),
                _number(v.max_abs_delta),
                _number(v.relative_change),
                _number(v.cosine),
            ]
        )
    print("\n".join(_table(rows, indent="")))
    print(report.summary)
    return 0


# check ---------------------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from ckptgui.modeldir import compat
    from ckptgui.modeldir.data import load_dataset

    try:
        spec, _ = spec_from_flags(args, RunSpec())
        network = spec.network
        dataset = load_dataset(spec.data, network.n_classes)
        n_classes = network.n_classes or dataset.n_classes
        report = compat.check(network, dataset.n_features, n_classes, args.path)
    except BAD_INPUT as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _emit(
            {
                "compatible": report.compatible,
                "summary": report.summary,
                "prefix": report.prefix,
                "mismatches": [asdict(m) for m in report.mismatches],
                "remedies": report.remedies,
                "notes": report.notes,
                "checkpoint_network": asdict(report.checkpoint_network) if report.checkpoint_network else None,
            }
        )
    else:
        print(f"{report.prefix}: {'compatible' if report.compatible else 'NOT compatible'}")
        print(report.message())
        if report.remedies:
            print("ways out:")
            for remedy in report.remedies:
                print(f"  - {remedy}")
    return 0 if report.compatible else EXIT_INCOMPATIBLE


# eval / predict ------------------------------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from ckptgui.engine.inference import InferenceError, evaluate

    try:
        data = DataConfig(source=args.data, label_column=args.label_column) if args.data else None
        if data is None and args.label_column:
            raise UsageError("--label-column needs --data")
        result = evaluate(args.path, step=args.step, data=data, split=args.split)
    except (*BAD_INPUT, InferenceError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _emit(asdict(result))
        return 0
    rows = "all rows" if result.split == "all" else f"the {result.split} split"
    print(f"{result.prefix} (step {_step_text(result.step)}) on {result.data}, {rows}")
    print(f"accuracy {result.accuracy:.4f}   loss {result.loss:.4f}   examples {result.examples}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _parse_row(text: str) -> list[float]:
    try:
        return [float(cell) for cell in text.replace(" ", "").split(",")]
    except ValueError:
        raise UsageError(f"--features {text!r}: expected comma-separated numbers, e.g. 5.1,3.3,1.7,0.5") from None


def _predict(args: argparse.Namespace) -> int:
    from ckptgui.engine.inference import InferenceError, restore

    rows = [_parse_row(text) for text in args.features]
    try:
        model = restore(args.path, args.step)
        predictions = model.predict(rows)
    except (*BAD_INPUT, InferenceError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _emit(
            {
                "prefix": model.checkpoint.prefix,
                "step": model.step,
                "feature_names": model.feature_names,
                "class_names": model.class_names,
                "predictions": [{"features": row, **asdict(p)} for row, p in zip(rows, predictions, strict=True)],
            }
        )
        return 0
    print(f"{model.checkpoint.prefix} (step {_step_text(model.step)}); columns: {', '.join(model.feature_names)}")
    for row, p in zip(rows, predictions, strict=True):
        probabilities = ", ".join(
            f"{name} {value:.3f}" for name, value in zip(model.class_names, p.probabilities, strict=True)
        )
        print(f"{row} -> {p.class_name}  ({probabilities})")
    for note in model.notes:
        print(f"note: {note}")
    return 0
