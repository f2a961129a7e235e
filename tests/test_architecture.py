"""The core stays free of Qt, and the modules the window needs at start-up stay free of TensorFlow."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import ckptgui.core

BLOCK_AND_IMPORT = """
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
for module in {modules!r}:
    importlib.import_module(module)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(",".join(loaded))
"""


def run_isolated(modules: list[str], blocked: set[str]) -> subprocess.CompletedProcess:
    code = BLOCK_AND_IMPORT.format(blocked=sorted(blocked), modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def core_modules() -> list[str]:
    return [f"ckptgui.core.{info.name}" for info in pkgutil.iter_modules(ckptgui.core.__path__)]


def test_every_core_module_imports_with_qt_blocked():
    result = run_isolated(core_modules(), {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""


def test_startup_modules_do_not_import_tensorflow():
    light = ["ckptgui.cli", "ckptgui.core.config", "ckptgui.core.data", "ckptgui.core.statefile", "ckptgui.core.runlog"]
    light += [m for m in ("ckptgui.core.events",) if m in core_modules()]
    result = run_isolated(light, {"tensorflow", "keras"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""
