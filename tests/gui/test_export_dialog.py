"""The Restore tab's Export… dialog: format and folder, progress, the verified result, show in file manager."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR
from gui_helpers import WINDOW_TIMEOUT_MS
from PySide6.QtCore import QThreadPool, QUrl
from PySide6.QtGui import QDesktopServices

from ckptgui.gui.widgets.export_dialog import ExportDialog
from ckptgui.gui.widgets.restore_panel import RestorePanel
from ckptgui.modeldir.scan import scan
from ckptgui.workspace.model import Workspace

EXPORT_TIMEOUT_MS = max(WINDOW_TIMEOUT_MS, 120_000)  # TensorFlow starts twice: here, and in the fresh process


@pytest.fixture
def pool() -> QThreadPool:
    return QThreadPool.globalInstance()


def test_export_shows_the_verified_result_and_opens_its_folder(
    qtbot, pool: QThreadPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exports"
    dialog = ExportDialog(pool, str(ESTIMATOR / "model.ckpt-100"), "step 100")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.folder_edit.text() == str(ESTIMATOR / "export")
    dialog.folder_edit.setText(str(out))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("keras"))
    stages: list[str] = []
    dialog._stages.stage.connect(stages.append)
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_TIMEOUT_MS):
        dialog.export_button.click()
        assert dialog.progress.isVisible() and not dialog.export_button.isEnabled()
    result = dialog.result
    assert result is not None and result.format == "keras" and result.step == 100
    assert Path(result.path).parent == out and os.listdir(out) == [Path(result.path).name]
    assert stages[0] == "restoring the checkpoint" and "reloading it in a fresh process" in stages
    assert f"Exported to {result.path}" in dialog.message.text()
    assert not dialog.progress.isVisible() and dialog.export_button.isEnabled()
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", opened.append)
    assert not dialog.show_button.isHidden()
    dialog.show_button.click()
    assert [url.toLocalFile() for url in opened] == [str(out)]


def test_a_failed_export_says_why_and_leaves_nothing(qtbot, pool: QThreadPool, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    blocker = tmp_path / "exports" / "a file"
    blocker.write_text("")
    dialog = ExportDialog(pool, str(ESTIMATOR / "model.ckpt-200"), "step 200")
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(blocker))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled(), timeout=EXPORT_TIMEOUT_MS)
    assert "Not exported:" in dialog.message.text() and "is a file" in dialog.message.text()
    assert dialog.result is None and dialog.show_button.isHidden()
    assert os.listdir(tmp_path / "exports") == ["a file"]


def test_the_restore_panel_opens_it_for_the_selected_step(qtbot, pool: QThreadPool) -> None:
    panel = RestorePanel(pool, Workspace())
    qtbot.addWidget(panel)
    assert not panel.export_button.isEnabled()  # nothing selected
    panel.set_checkpoints(scan(ESTIMATOR).checkpoints)
    panel.select_prefix(str(ESTIMATOR / "model.ckpt-100"))
    assert panel.export_button.isEnabled()
    dialog = panel.open_export_dialog()
    assert dialog is not None and dialog.isVisible()
    assert dialog.prefix == str(ESTIMATOR / "model.ckpt-100")
    assert dialog.windowTitle() == "Export step 100"
    dialog.close()
