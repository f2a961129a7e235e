"""Keep TensorFlow's C++ log noise off the console: ckptgui's own messages only.

TensorFlow 2.21 logs through absl. While ``import tensorflow`` runs, absl is not initialised yet and writes every
message straight to file descriptor 2 whatever ``TF_CPP_MIN_LOG_LEVEL`` says ("All log messages before
absl::InitializeLog() is called are written to STDERR", oneDNN, "Could not find cuda drivers", the CPU feature
guard), twice, as two of its libraries load. After the import the variable is honoured, and level 3 also drops
the ``failed call to cuInit`` error a machine without a GPU gets at the first operation. So: the level defaults
to 3, and the import itself runs with file descriptor 2 captured, replaying every line that is not such a log
line. A user who sets ``TF_CPP_MIN_LOG_LEVEL`` gets exactly what TensorFlow prints.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# absl's line prefix for info and warnings (I1201 12:00:00.000000  1234 file.cc:12]; before its init the time reads
# 00:00:<epoch seconds>), its pre-init notice, and the CPU feature guard's second line.
NOISE = re.compile(
    r"^(?:[IW]\d{4} \d+:\d+:\d+\.\d+ +\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


def silence_tensorflow() -> None:
    """Call before anything imports TensorFlow; does nothing when the user chose a log level."""
    if LEVEL_VARIABLE in os.environ:
        return
    os.environ[LEVEL_VARIABLE] = "3"
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


@contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture file descriptor 2 (C++ writes too) for the block, then write back every line that is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not NOISE.match(line)))
            sys.stderr.flush()


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, and runs its ``__init__`` under :func:`native_stderr_filtered` once."""

    done = False  # it stays on sys.meta_path: removing it could skip a finder another thread is iterating over

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow" or self.done:
            return None
        self.done = True
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the module keeps the real loader; only its first run is wrapped
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with native_stderr_filtered():
            self.loader.exec_module(module)
