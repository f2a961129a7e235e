"""The package boundaries: TensorFlow in engine/ only, Qt in gui/ only, formats/ and modeldir/ below engine/.

Two checks. A static one reads every import statement of the package, function-level ones included, so a
boundary cannot be crossed by a late import. A dynamic one imports every module outside engine/ in a fresh
interpreter with TensorFlow (and, outside gui/, Qt) blocked, so nothing pulls them in at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ckptgui"
TENSORFLOW = {"tensorflow", "keras", "tf_keras"}
QT = {"PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"}

# Which ckptgui packages each layer may import (besides itself); data flows one way, top to bottom.
ALLOWED = {
    "formats": {"formats", "storage"},
    "storage": {"storage"},
    "modeldir": {"formats", "storage", "modeldir", "_resources"},
    "engine": {"formats", "storage", "modeldir", "engine", "__init__"},
    "workspace": {"formats", "storage", "modeldir", "workspace"},
}

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


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(path: Path) -> str:
    """The first component below ckptgui/: a package name, or a top-level module's name."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names if node.module == "ckptgui"]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def violations(rule) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for path in SOURCES
        for line, name in imported_modules(path)
        if rule(path, name)
    ]


def test_only_engine_imports_tensorflow():
    assert violations(lambda path, name: name.split(".")[0] in TENSORFLOW and layer_of(path) != "engine") == []


def test_only_gui_imports_qt():
    assert violations(lambda path, name: name.split(".")[0] in QT and layer_of(path) != "gui") == []


def test_the_gui_reaches_the_engine_through_one_module():
    """gui/engine.py loads TensorFlow after the first paint; every other gui module goes through it."""
    door = PACKAGE / "gui" / "engine.py"

    def bypasses(path: Path, name: str) -> bool:
        return layer_of(path) == "gui" and path != door and name.startswith("ckptgui.engine")

    assert violations(bypasses) == []


def test_layers_import_only_what_is_below_them():
    def crosses(path: Path, name: str) -> bool:
        allowed = ALLOWED.get(layer_of(path))
        parts = name.split(".")
        return allowed is not None and parts[0] == "ckptgui" and len(parts) > 1 and parts[1] not in allowed

    assert violations(crosses) == []


def run_isolated(modules: list[str], blocked: set[str]) -> subprocess.CompletedProcess:
    code = BLOCK_AND_IMPORT.format(blocked=sorted(blocked), modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("layers", "blocked"),
    [
        pytest.param({"formats", "storage", "modeldir", "workspace", "engine"}, QT, id="no-qt-outside-gui"),
        pytest.param({"formats", "storage", "modeldir", "workspace", "commands", "gui", "cli"}, TENSORFLOW, id="no-tf"),
    ],
)
def test_modules_import_with_the_forbidden_libraries_blocked(layers: set[str], blocked: set[str]):
    """Outside engine/, nothing loads TensorFlow at import time: ``ckptgui --help`` and the first paint stay light."""
    modules = [module_name(path) for path in SOURCES if layer_of(path) in layers]
    result = run_isolated(modules, blocked)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""
