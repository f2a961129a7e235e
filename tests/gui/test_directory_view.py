"""The live directory view and its watcher: our runs, another process's runs, bursts, file systems without events."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS
from PySide6.QtCore import QThreadPool, QTimer

from ckptgui.formats.events import ScalarReader
from ckptgui.gui.watcher import DirectoryWatcher
from ckptgui.gui.widgets.directory_view import DirectoryView
from ckptgui.modeldir.scan import scan
from ckptgui.modeldir.snapshot import list_files
from ckptgui.workspace.model import Workspace


def train_cli(model_dir: Path, steps: int) -> subprocess.Popen:
    """Another process writing the model_dir: the real ``ckptgui train`` command."""
    command = [
        sys.executable, "-m", "ckptgui", "train", "--model-dir", str(model_dir), "--steps", str(steps),
        "--save-checkpoints-steps", "100", "--keep-checkpoint-max", "3", "--save-summary-steps", "50",
        "--seed", "3", "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_process(qtbot, process: subprocess.Popen) -> None:
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=TRAIN_TIMEOUT_MS)
    _out, err = process.communicate()
    assert process.returncode == 0, err[-2000:]


@pytest.mark.slow
def test_external_process_writing_the_model_dir(qtbot, window, tmp_path: Path):
    model_dir = tmp_path / "external"
    model_dir.mkdir()
    assert window.open_model_dir(str(model_dir))
    view, workspace = window.panels.directory, window.workspace

    wait_process(qtbot, train_cli(model_dir, 300))
    qtbot.waitUntil(lambda: workspace.steps() == [100, 200, 300], timeout=WINDOW_TIMEOUT_MS)
    wait_process(qtbot, train_cli(model_dir, 300))  # resumes at 300; retention sweeps 100..300
    qtbot.waitUntil(lambda: workspace.steps() == [400, 500, 600], timeout=WINDOW_TIMEOUT_MS)
    assert {100, 200, 300} <= workspace.swept_steps
    assert {c.step for c in scan(model_dir).checkpoints} == {400, 500, 600}
    assert not any(name.startswith("model.ckpt-300") for name in view._file_items)
    assert {c.prefix for c in workspace.checkpoints()} == {c.prefix for c in scan(model_dir).checkpoints}

    # The plots show the other process's summaries, and swept checkpoints as faded markers.
    reader = ScalarReader(model_dir)
    reader.poll()
    qtbot.waitUntil(
        lambda: window.panels.plots.point_count(".", "loss") == len(reader.series(".", "loss").steps),
        timeout=WINDOW_TIMEOUT_MS,
    )
    live, swept = window.panels.plots.marker_steps()
    assert live == (400, 500, 600)
    assert {100, 200, 300} <= set(swept)


def test_new_rows_are_highlighted_and_removed_rows_go(qtbot, tmp_path: Path):
    pool = QThreadPool()
    workspace = Workspace()
    view = DirectoryView(pool, workspace)
    qtbot.addWidget(view)
    (tmp_path / "first.txt").write_text("1", encoding="utf-8")
    workspace.set_model_dir(str(tmp_path))
    qtbot.waitUntil(lambda: "first.txt" in view._file_items)
    assert view.highlighted_count() == 0  # nothing is "new" on the first look
    (tmp_path / "second.txt").write_text("2", encoding="utf-8")
    qtbot.waitUntil(lambda: "second.txt" in view._file_items, timeout=5000)
    assert view.highlighted_count() == 1
    qtbot.waitUntil(lambda: view.highlighted_count() == 0, timeout=5000)  # the highlight fades
    (tmp_path / "first.txt").unlink()
    qtbot.waitUntil(lambda: "first.txt" not in view._file_items, timeout=5000)
    workspace.set_model_dir(None)
    pool.waitForDone()


def test_watcher_coalesces_bursts(qtbot, tmp_path: Path):
    """Saves spread over time make many directoryChanged signals; ``changed`` fires once per debounce window."""
    watcher = DirectoryWatcher(debounce_ms=100, poll_ms=60_000)
    fired: list[float] = []
    watcher.set_path(str(tmp_path))
    watcher.changed.connect(lambda: fired.append(time.monotonic()))
    written: list[int] = []

    def write_one() -> None:
        (tmp_path / f"f{len(written)}").write_text("x", encoding="utf-8")
        written.append(1)
        if len(written) == 40:
            writer.stop()

    writer = QTimer(interval=5)
    writer.timeout.connect(write_one)
    started = time.monotonic()
    writer.start()
    qtbot.waitUntil(lambda: len(written) == 40 and fired and fired[-1] > started, timeout=5000)
    qtbot.waitUntil(lambda: not watcher._debounce.isActive(), timeout=5000)
    elapsed = time.monotonic() - started
    assert watcher.fs_events > 5
    assert 1 <= len(fired) <= elapsed / 0.1 + 2
    assert len(fired) < watcher.fs_events


def test_polling_fallback_without_file_system_events(qtbot, tmp_path: Path):
    """A network file system sends no inotify events: the poll timer still notices."""
    watcher = DirectoryWatcher(debounce_ms=100, poll_ms=200)
    watcher.set_path(str(tmp_path))
    watcher._watcher.blockSignals(True)  # what a file system without change notifications looks like
    before = list_files(str(tmp_path))
    (tmp_path / "new").write_text("x", encoding="utf-8")
    with qtbot.waitSignal(watcher.changed, timeout=2000):
        pass
    assert watcher.fs_events == 0
    assert list_files(str(tmp_path)) != before


def test_a_directory_that_appears_later_is_picked_up(qtbot, tmp_path: Path):
    pool = QThreadPool()
    workspace = Workspace()
    view = DirectoryView(pool, workspace)
    qtbot.addWidget(view)
    later = tmp_path / "later"
    workspace.set_model_dir(str(later))
    qtbot.waitUntil(lambda: "does not exist yet" in view.header.text())
    later.mkdir()
    (later / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-5"\n', encoding="utf-8")
    qtbot.waitUntil(lambda: "checkpoint" in view._file_items, timeout=5000)
    workspace.set_model_dir(None)
    pool.waitForDone()


def test_damaged_checkpoint_shows_its_status(qtbot, window, tmp_path: Path):
    from gui_helpers import small_spec

    from ckptgui.engine.training import Trainer

    model_dir = tmp_path / "damaged"
    Trainer(small_spec(model_dir, steps=100)).run()
    (model_dir / "model.ckpt-100.index").write_bytes(b"")
    window.open_model_dir(str(model_dir))
    qtbot.waitUntil(lambda: window.panels.directory.item_for_step(100) is not None, timeout=WINDOW_TIMEOUT_MS)
    item = window.panels.directory.item_for_step(100)
    assert item.text(3) == "corrupt"
    assert "empty" in item.toolTip(3)
    assert window.panels.directory.item_for_step(0).text(3) == "ok"
