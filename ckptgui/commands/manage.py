"""``ckptgui pin`` / ``unpin`` / ``clean``: protect checkpoints from retention, remove crash leftovers."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ckptgui.cli import UsageError
from ckptgui.modeldir.cleanup import leftovers
from ckptgui.modeldir.records import set_pinned
from ckptgui.modeldir.retention import checkpoint_prefix


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, pinned, text in (
        ("pin", True, "protect checkpoint STEP of MODEL_DIR from retention (stored in ckptgui_pins.json)"),
        ("unpin", False, "let retention manage checkpoint STEP again"),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("model_dir")
        parser.add_argument("step", type=int)
        parser.set_defaults(func=_pin, pinned=pinned)
    parser = subparsers.add_parser(
        "clean",
        help="list (and with --yes remove) what a crash left behind: *_temp folders, temporary files, "
        "checkpoints that are incomplete or corrupt and not listed in the state file",
    )
    parser.add_argument("model_dir")
    parser.add_argument("--yes", action="store_true", help="remove them (without it, only list)")
    parser.set_defaults(func=_clean)


def _model_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise UsageError(f"{text}: not a directory; expected a model_dir")
    return path


def _pin(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args.model_dir)
    if args.pinned and not Path(f"{checkpoint_prefix(model_dir, args.step)}.index").exists():
        raise UsageError(f"{model_dir}: no checkpoint model.ckpt-{args.step} to pin")
    pins = set_pinned(model_dir, args.step, args.pinned)
    print(f"pinned steps in {model_dir}: {', '.join(map(str, sorted(pins))) or 'none'}")
    return 0


def _clean(args: argparse.Namespace) -> int:
    model_dir = _model_dir(args.model_dir)
    found = leftovers(model_dir)
    if not found:
        print(f"{model_dir}: nothing to clean")
        return 0
    for path, why in found:
        print(f"{'removing' if args.yes else 'would remove'} {path.relative_to(model_dir)}  ({why})")
        if args.yes:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    if not args.yes:
        print("run again with --yes to remove them")
    return 0
