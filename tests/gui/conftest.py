"""GUI test setup: settings isolated per test, a window factory that cleans up after itself."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_helpers import WINDOW_TIMEOUT_MS, finish_training
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from ckptgui.gui.app import isolate_settings
from ckptgui.gui.main_window import MainWindow


@pytest.fixture(autouse=True)
def private_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary model_dirs the window makes (new model_dir, continue, warm start) go under the test's tmp_path."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def isolated_settings(qapp: QApplication, tmp_path: Path) -> Path:
    """Every test gets its own empty QSettings folder and names; the user's real settings are never read."""
    folder = tmp_path / "qsettings"
    QCoreApplication.setOrganizationName("ckptgui-tests")
    QCoreApplication.setApplicationName("ckptgui-tests")
    isolate_settings(str(folder))
    return folder


@pytest.fixture
def make_window(qtbot) -> Iterator[Callable[..., MainWindow]]:
    """Build the real main window, shown offscreen, with TensorFlow loaded as at a normal start."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow()  # not qtbot.addWidget: its teardown would close the window before training stops
        window.resize(1360, 860)
        window.show()
        qtbot.waitUntil(lambda: window.tensorflow_ready, timeout=WINDOW_TIMEOUT_MS)
        windows.append(window)
        return window

    yield make
    for window in windows:
        finish_training(qtbot, window)
        for dialog in (window.training_controller.incompatible_dialog, window.training_controller.close_dialog):
            if dialog is not None:
                dialog.reject()
        window.close()
        if window.leftovers_dialog is not None:  # temporary model_dirs under the test's tmp_path: kept
            window.leftovers_dialog.keep_button.click()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def window(make_window: Callable[..., MainWindow]) -> MainWindow:
    return make_window()
