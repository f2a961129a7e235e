"""Opening a model_dir never reads its data: the form shows what the run log recorded and reads it on Start."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, small_spec

from ckptgui.gui.panels import RESTORE
from ckptgui.modeldir.config import DataConfig
from ckptgui.modeldir.records import RunLog, write_run_log
from ckptgui.modeldir.scan import scan


def _write_run_log_naming(model_dir: Path, source: Path, rows: int) -> None:
    """A model_dir whose run log names ``source`` as its data, described as a run describes it."""
    model_dir.mkdir()
    spec = replace(small_spec(model_dir, steps=20, save_checkpoints_steps=10), data=DataConfig(source=str(source)))
    described = {
        "source": str(source),
        "sha256": "ab" * 32,
        "feature_names": ["a", "b"],
        "label_column": "label",
        "class_names": ["x", "y"],
        "rows": rows,
    }
    write_run_log(model_dir, RunLog(spec=spec, data=described))


def _open(qtbot, window, model_dir: Path, rows: str) -> None:
    """Open ``model_dir``; returns once the form describes its data (``rows``, unread) and Start is enabled."""
    assert window.open_model_dir(str(model_dir))
    described = f"({rows} rows · "
    qtbot.waitUntil(lambda: described in window.config.data_info.text(), timeout=WINDOW_TIMEOUT_MS)
    assert "read when training starts" in window.config.data_info.text()
    qtbot.waitUntil(lambda: window.window_actions.start.isEnabled(), timeout=WINDOW_TIMEOUT_MS)


def _nobody_reads(fifo: Path) -> bool:
    """True when no one has ``fifo`` open for reading (a non-blocking writer's open then fails with ENXIO)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return True
        raise
    return False  # a reader was blocked on it; the close just gave it end-of-file


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data.csv"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # a reader left blocked on it would hang the test run: release it
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    path.unlink()


def test_opening_a_folder_describes_its_data_without_reading_it(qtbot, window, tmp_path: Path, fifo: Path):
    model_dir = tmp_path / "run"
    _write_run_log_naming(model_dir, fifo, rows=1_000_000)
    _open(qtbot, window, model_dir, "1,000,000")
    form = window.config
    qtbot.wait(300)  # a load started by the opening would have reported by now (the loader refuses a pipe at once)
    assert form.dataset is None and form.errors == {}
    assert "sha256 abababababab" in form.data_info.text()
    assert _nobody_reads(fifo)

    # Start reads it now: a pipe is refused inline, and no training starts.
    window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: "data" in form.errors, timeout=WINDOW_TIMEOUT_MS)
    assert "not a regular file" in form.errors["data"]
    assert window.training_controller.session is None
    assert not window.window_actions.start.isEnabled()
    assert "not a regular file" in window.statusBar().currentMessage()
    assert _nobody_reads(fifo)


def test_start_loads_the_described_data_and_trains(qtbot, make_window, tmp_path: Path):
    window = make_window()
    data = tmp_path / "small.csv"
    data.write_text("a,b,label\n" + "".join(f"{i % 7},{i % 3},{'xy'[i % 2]}\n" for i in range(40)), encoding="utf-8")
    model_dir = tmp_path / "run"
    _write_run_log_naming(model_dir, data, rows=40)
    _open(qtbot, window, model_dir, "40")
    form = window.config
    assert form.dataset is None

    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    assert finished.args[0] is not None, window.last_error
    assert finished.args[0].step == 20
    assert form.dataset is not None and form.dataset.source == str(data)
    assert "32 train / 8 test rows" in form.data_info.text()
    assert [c.step for c in scan(str(model_dir)).checkpoints][-1] == 20

    # Opened again in a new window: the data is deferred again, and the Restore tab's check reads it.
    again = make_window()
    _open(qtbot, again, model_dir, "40")  # as the run log the training wrote describes it
    assert again.config.dataset is None
    again.panels.show_tab(RESTORE)
    qtbot.waitUntil(lambda: again.panels.restore.report is not None, timeout=WINDOW_TIMEOUT_MS)
    assert again.panels.restore.report.compatible
    assert again.config.dataset is not None and again.config.dataset.source == str(data)
