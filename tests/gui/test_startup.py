"""Start-up: the window paints before TensorFlow loads; opening model_dirs; the command line; the self-test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gui_helpers import WINDOW_TIMEOUT_MS, small_spec
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from ckptgui.engine.training import Trainer

FIRST_PAINT = """
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from ckptgui.gui.app import isolate_settings, make_application
app = make_application()
isolate_settings(sys.argv[1])
from ckptgui.gui.main_window import MainWindow
seen = {"messages": []}
window = MainWindow()
window.statusBar().messageChanged.connect(lambda text: text and seen["messages"].append(text))
def painted():
    seen["tf_at_first_paint"] = "tensorflow" in sys.modules
def loaded():
    seen["tf_loaded"] = "tensorflow" in sys.modules
    import tensorflow as tf
    seen["tf_threads"] = [tf.config.threading.get_intra_op_parallelism_threads(),
                          tf.config.threading.get_inter_op_parallelism_threads()]
    app.quit()
window.firstPainted.connect(painted)
window.tensorflowLoaded.connect(loaded)
window.show()
app.exec()
print(json.dumps(seen))
"""


def run_python(code: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


def test_gui_modules_import_without_tensorflow():
    code = "import sys, ckptgui.gui.app, ckptgui.gui.main_window; print('tensorflow' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_window_paints_before_tensorflow_loads(tmp_path: Path):
    result = run_python(FIRST_PAINT, str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    threads = seen.pop("tf_threads")
    assert seen == {"tf_at_first_paint": False, "messages": ["Loading TensorFlow…", "Ready"], "tf_loaded": True}
    assert threads == [max(1, len(os.sched_getaffinity(0)) - 1), 1]  # a core left for the window's own thread


def test_command_line_refuses_a_missing_model_dir(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "ckptgui", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr and "nope" in result.stderr


@pytest.mark.slow
def test_self_test_command(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "ckptgui", "--self-test"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    screenshot = Path(result.stdout.strip().splitlines()[-1])
    assert screenshot.is_file() and screenshot.suffix == ".png"
    assert "self-test passed" in result.stderr


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    model_dir = tmp_path / "trained"
    Trainer(small_spec(model_dir, steps=100)).run()
    return model_dir


def test_open_loads_the_run_config_and_lists_it_as_recent(qtbot, window, trained: Path):
    spec = small_spec(trained, steps=100)
    window.config.hidden_units.set_units([3])
    assert window.open_model_dir(str(trained))
    assert window.config.hidden_units.units() == spec.network.hidden_units
    assert window.config.model_dir_text() == str(trained.resolve())
    qtbot.waitUntil(lambda: window.workspace.steps() == [0, 100], timeout=WINDOW_TIMEOUT_MS)
    recent = [a.data() for a in window.window_actions.recent_menu.actions() if a.data()]
    assert recent == [str(trained.resolve())]


def test_open_refuses_what_is_not_a_directory(qtbot, window, tmp_path: Path):
    assert not window.open_model_dir(str(tmp_path / "missing"))
    assert "does not exist" in window.last_error[0]
    assert window.statusBar().currentMessage().startswith("Error:")
    qtbot.waitUntil(lambda: window._error_box is not None and window._error_box.isVisible())
    window._error_box.close()


def test_drop_a_checkpoint_file_opens_its_model_dir(qtbot, window, trained: Path):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(trained / "model.ckpt-100.index"))])
    event = QDropEvent(
        QPointF(QPoint(200, 200)),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert event.isAccepted()
    assert window.workspace.model_dir == str(trained.resolve())
    qtbot.waitUntil(lambda: window.workspace.steps() == [0, 100], timeout=WINDOW_TIMEOUT_MS)


def test_worker_errors_go_to_one_place(qtbot, window, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    spec = small_spec(blocker / "model_dir", steps=10)  # cannot be created: its parent is a file
    window.config.set_spec(spec)
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)
    with qtbot.waitSignal(window.errorReported, timeout=WINDOW_TIMEOUT_MS) as reported:
        window.window_actions.start.trigger()
    message, detail = reported.args
    assert "model_dir" in message and "cannot be created" in message
    assert "Traceback" in detail
    assert window.statusBar().currentMessage().startswith("Error:")
    assert window._error_box.isVisible() and window._error_box.detailedText() == detail
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=WINDOW_TIMEOUT_MS)
    assert window.window_actions.start.isEnabled()


def test_shortcuts_are_listed(window):
    table = dict(window.window_actions.shortcut_table())
    assert table["Start"] == "F5, Ctrl+Return"
    assert table["Pause"] == "F6"
    assert table["Stop"] == "Shift+F5"
    assert table["Open model_dir"] == "Ctrl+O"
    assert len(set(table.values()) - {""}) == len([v for v in table.values() if v]), "no shortcut used twice"
