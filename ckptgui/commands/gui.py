"""``ckptgui [gui] [PATH]``: the desktop window."""

from __future__ import annotations

import argparse
from pathlib import Path

from ckptgui.cli import UsageError
from ckptgui.storage import expand_path, scheme_of


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gui", help="open the window (the default without a subcommand)")
    parser.add_argument("path", nargs="?", help="a model_dir to open (or a file in it: a checkpoint, an events file)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen, train, restore and compare, save a screenshot, exit 0 on success",
    )
    parser.set_defaults(func=_run)


def model_dir_argument(path: str) -> str:
    """The directory PATH names: itself, or the folder of a file in it; UsageError when there is none.

    A bucket URL is taken as it is: the window's live view says what it finds there (no request here)."""
    if scheme_of(path):
        return expand_path(path)
    target = Path(path).expanduser()
    if target.is_dir():
        return str(target)
    if target.is_file():
        return str(target.parent)
    raise UsageError(f"{path}: no such file or directory; expected a model_dir to open")


def _run(args: argparse.Namespace) -> int:
    from ckptgui.gui.app import run_app

    if args.self_test and args.path:
        raise UsageError("--self-test trains into its own temporary model_dir; give no PATH with it")
    path = model_dir_argument(args.path) if args.path else None
    return run_app(path=path, self_test=args.self_test)
