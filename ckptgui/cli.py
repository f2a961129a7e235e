"""Command-line front: no arguments (or a model_dir path) opens the window; subcommands run headless.

Each subcommand lives in its own module under ``ckptgui.commands`` and
registers itself with ``register(subparsers)``. Only ``ckptgui.engine`` imports
TensorFlow, and no command module loads it at import time (the architecture test
checks this), so ``ckptgui --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ckptgui import __version__
from ckptgui.native_logs import silence_tensorflow
from ckptgui.storage import StorageError

COMMAND_MODULES = (
    "ckptgui.commands.gui",
    "ckptgui.commands.train",
    "ckptgui.commands.manage",
    "ckptgui.commands.inspect",
    "ckptgui.commands.scalars",
    "ckptgui.commands.runs",
    "ckptgui.commands.export",
)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + 13  # as a Unix tool killed by SIGPIPE (``ckptgui inspect DIR | head -1``)


class UsageError(Exception):
    """Bad input from the user: printed as one line on stderr, exit status 2."""


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser and the names of the subcommands it knows."""
    parser = argparse.ArgumentParser(
        prog="ckptgui",
        description="A desktop checkpoint manager for TensorFlow training. "
        "Without a subcommand, opens the window (on PATH, a model_dir, if given; see 'ckptgui gui --help').",
    )
    parser.add_argument("--version", action="version", version=f"ckptgui {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser, set(subparsers.choices)


def main(argv: Sequence[str] | None = None) -> int:
    silence_tensorflow()  # before any command loads TensorFlow
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser()
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]  # the window is the default command
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args) or EXIT_OK)
        sys.stdout.flush()  # a reader that went away shows here, not as a traceback at exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (UsageError, StorageError) as exc:  # StorageError: a missing extra, credentials, the network
        print(f"ckptgui {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"ckptgui {args.command}: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """The reader of stdout (``head``, a pager) is gone: point stdout at /dev/null so the exit flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
