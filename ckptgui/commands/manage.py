"""``ckptgui pin`` / ``unpin`` / ``clean``: protect checkpoints from retention, remove crash leftovers.

``pin`` and ``unpin`` take a model_dir in a bucket too (the pins are one small object). ``clean`` lists a
bucket's leftovers but removes none there: nothing deletes a remote object that ckptgui did not write, and the
leftovers of a crash are TensorFlow's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ckptgui.cli import UsageError
from ckptgui.modeldir.cleanup import leftovers
from ckptgui.modeldir.records import RunLogError, set_pinned
from ckptgui.modeldir.retention import checkpoint_prefix
from ckptgui.storage import expand_path, relative_path, scheme_of, storage_for

MODEL_DIR_HELP = "the model_dir: a folder, gs://BUCKET/PATH or s3://BUCKET/PATH"


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, pinned, text in (
        ("pin", True, "protect checkpoint STEP of MODEL_DIR from retention (stored in ckptgui_pins.json)"),
        ("unpin", False, "let retention manage checkpoint STEP again"),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("model_dir", help=MODEL_DIR_HELP)
        parser.add_argument("step", type=int, help="the checkpoint's global step (model.ckpt-STEP)")
        parser.set_defaults(func=_pin, pinned=pinned)
    text = (
        "list (and with --yes remove) what a crash left behind: *_temp folders, temporary files, "
        "checkpoints that are incomplete or corrupt and not listed in the state file"
    )
    parser = subparsers.add_parser("clean", help=text, description=text)
    parser.add_argument("model_dir", help=MODEL_DIR_HELP)
    parser.add_argument("--yes", action="store_true", help="remove them (without it, only list)")
    parser.set_defaults(func=_clean)


def _model_dir(text: str) -> str:
    path = expand_path(text)
    found = storage_for(path).info(path)
    if found is None or not found.is_dir:
        raise UsageError(f"{text}: not a directory; expected a model_dir")
    return path


def _pin(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args.model_dir)
    index = f"{checkpoint_prefix(model_dir, args.step)}.index"
    if args.pinned and storage_for(index).info(index) is None:
        raise UsageError(f"{model_dir}: no checkpoint model.ckpt-{args.step} to pin")
    try:
        pins = set_pinned(model_dir, args.step, args.pinned)
    except RunLogError as exc:  # a damaged pins file: named, never overwritten
        raise UsageError(str(exc)) from None
    print(f"pinned steps in {model_dir}: {', '.join(map(str, sorted(pins))) or 'none'}")
    return 0


def _clean(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args.model_dir)
    if args.yes and scheme_of(model_dir):
        raise UsageError(
            f"{model_dir}: clean removes nothing in a bucket (nothing deletes remote objects that ckptgui did not "
            "write); run it without --yes to list the leftovers"
        )
    found = leftovers(model_dir)
    if not found:
        print(f"{model_dir}: nothing to clean")
        return 0
    failed = 0
    for path, why in found:
        print(f"{'removing' if args.yes else 'would remove'} {relative_path(path, model_dir)}  ({why})")
        if args.yes:
            try:
                _remove(Path(path))
            except OSError as exc:  # report and go on: one stubborn entry must not stop the others
                failed += 1
                print(f"  could not remove {relative_path(path, model_dir)}: {exc.strerror or exc}", file=sys.stderr)
    if not args.yes:
        print("run again with --yes to remove them")
    return 1 if failed else 0


def _remove(path: Path) -> None:
    """A link itself (never what it points to), a folder with its content, or a file."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)
