"""``ckptgui [gui] [PATH]``: the desktop window."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gui", help="open the window (the default without a subcommand)")
    parser.add_argument("path", nargs="?", help="a model_dir to open")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen, train, restore and compare, save a screenshot, exit 0 on success",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ckptgui.gui.app import run_app

    return run_app(path=args.path, self_test=args.self_test)
