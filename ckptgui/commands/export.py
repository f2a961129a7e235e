"""``ckptgui export``: any checkpoint ckptgui can restore, as a SavedModel (Estimator's signatures), .keras or .tflite.

Bad input (unknown step, a checkpoint that holds no DNN classifier, a target that exists without ``--force``, a
folder that cannot be written) exits 2 with one line saying what is wrong; an export that does not reproduce
ckptgui's predictions when reloaded exits 1. Neither leaves anything behind. ``export-check`` (not listed in the
help) is the fresh process an export is reloaded in.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from ckptgui.cli import UsageError
from ckptgui.commands.inspect import BAD_INPUT, PATH_HELP
from ckptgui.engine.export import CHECK_COMMAND, FORMATS  # the module loads TensorFlow only when it exports

EXIT_NOT_VERIFIED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export",
        help="export a checkpoint for serving: SavedModel, .keras or .tflite",
        description="Restore a checkpoint (the newest healthy one, or --step N) and export it for serving. "
        "savedmodel: OUT/<unix time>/ with the signatures Estimator's DNNClassifier exported (serving_default and "
        "classification take serialized tf.Example protos; predict; serving_raw takes a float [batch, features] "
        "tensor). keras: a .keras model. tflite: a .tflite model. Each export is reloaded in a fresh process and "
        "checked against ckptgui's predict on the data's test split before it is put in place.",
    )
    export.add_argument("path", help=PATH_HELP)
    export.add_argument("--step", type=int, help="the checkpoint step (default: the newest healthy one)")
    export.add_argument("--format", choices=FORMATS, default="savedmodel", help="what to write (default savedmodel)")
    export.add_argument(
        "--out",
        metavar="DIR",
        help="the folder the export goes in (default MODEL_DIR/export); for keras and tflite also a file name "
        "ending in .keras / .tflite",
    )
    export.add_argument(
        "--model-version",
        type=int,
        metavar="N",
        help="the export's name under --out, a TF Serving version number (default: the current Unix time)",
    )
    export.add_argument("--force", action="store_true", help="replace an export that is already there")
    export.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    export.set_defaults(func=_export)

    check = subparsers.add_parser(CHECK_COMMAND, description="Internal: reload an export and run it on rows.")
    check.add_argument("format", choices=FORMATS)
    check.add_argument("export_path")
    check.add_argument("request")
    check.add_argument("answer")
    check.set_defaults(func=_check)


def _export(args: argparse.Namespace) -> int:
    from ckptgui.engine.export import ExportError, TargetExistsError, VerificationError, export
    from ckptgui.engine.inference import InferenceError

    try:
        result = export(args.path, args.step, args.format, args.out, version=args.model_version, force=args.force)
    except TargetExistsError as exc:
        raise UsageError(f"{exc.target} already exists; --force replaces it") from None
    except (*BAD_INPUT, InferenceError, ExportError) as exc:
        raise UsageError(str(exc)) from None
    except VerificationError as exc:
        print(f"ckptgui export: not exported: {exc}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    step = "-" if result.step is None else result.step
    print(f"exported {result.prefix} (step {step}) as {result.format}: {result.path}")
    if result.signatures:
        print(f"signatures: {', '.join(result.signatures)}")
    print(f"features: {', '.join(result.feature_names)}")
    print(f"classes: {', '.join(f'{i} {name}' for i, name in enumerate(result.class_names))}")
    print(
        f"verified in a fresh process on {result.checked_rows} rows ({result.checked_on}): "
        f"max |p - ckptgui's| {result.max_abs_difference:.2g} (tolerance {result.tolerance:g})"
    )
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ckptgui.engine.export import check_main

    check_main(args.format, args.export_path, args.request, args.answer)
    return 0
