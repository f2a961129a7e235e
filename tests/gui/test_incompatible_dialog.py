"""Starting into a model_dir whose checkpoint does not fit: the dialog, its table and its four ways out."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import TRAIN_TIMEOUT_MS, WINDOW_TIMEOUT_MS, configure, save_screenshot, small_spec

from ckptgui.engine.training import Trainer
from ckptgui.modeldir.scan import scan

pytestmark = pytest.mark.slow


def listing(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def trained_10_10(tmp_path: Path) -> Path:
    """A model_dir trained headless with hidden_units [10, 10] (checkpoints at steps 0 and 20)."""
    model_dir = tmp_path / "trained"
    Trainer(small_spec(model_dir, steps=20)).run()
    return model_dir


def ask(qtbot, window, model_dir: Path, hidden_units: list[int]):
    spec = small_spec(model_dir, steps=20)
    spec.network.hidden_units = hidden_units
    configure(qtbot, window, spec)
    window.window_actions.start.trigger()
    qtbot.waitUntil(lambda: window.training_controller.incompatible_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
    return window.training_controller.incompatible_dialog


def test_dialog_shows_mismatches_and_cancel_writes_nothing(qtbot, window, trained_10_10: Path):
    before = listing(trained_10_10)
    dialog = ask(qtbot, window, trained_10_10, [20, 20])
    assert "hidden_units [10, 10]" in dialog.table.summary.text()
    mismatched = dialog.table.mismatched_rows()
    assert {"dnn/hiddenlayer_0/kernel", "dnn/hiddenlayer_1/kernel", "dnn/logits/kernel"} <= set(mismatched)
    assert "dnn/hiddenlayer_0/kernel" in mismatched
    assert dialog.warm_start_button.isEnabled() and dialog.adopt_button.isEnabled()
    save_screenshot(dialog, "dialog-incompatible")
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: window.training_controller.incompatible_dialog is None)
    assert not window.workspace.training
    assert listing(trained_10_10) == before


def test_new_model_dir_leaves_the_old_one_alone(qtbot, window, trained_10_10: Path):
    before = listing(trained_10_10)
    dialog = ask(qtbot, window, trained_10_10, [20, 20])
    mismatched = dialog.table.mismatched_rows()
    first_rows = [dialog.table.table.item(r, 0).text() for r in range(len(mismatched))]
    assert first_rows == mismatched  # mismatches first
    assert "--" not in dialog.table.notes.text()  # ways out in words and buttons, not CLI flags
    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        dialog.new_dir_button.click()
        qtbot.waitUntil(lambda: window.training_controller.new_dir_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
        where = window.training_controller.new_dir_dialog
        assert Path(where.chosen_path()) == trained_10_10.parent / "trained-new"  # beside the source, editable
        where.path.setText(str(trained_10_10.parent / "elsewhere"))
        where.ok_button.click()
    assert finished.args[0].step == 20
    new_dir = Path(window.config.model_dir_text())
    assert new_dir == trained_10_10.parent / "elsewhere" and scan(new_dir).latest_step == 20
    assert listing(trained_10_10) == before


def test_warm_start_copies_the_variables_that_fit(qtbot, window, trained_10_10: Path):
    dialog = ask(qtbot, window, trained_10_10, [10, 20])  # hiddenlayer_0 and the logits bias fit
    fitting = dialog.report.fitting
    assert set(fitting) == {"dnn/hiddenlayer_0/kernel", "dnn/hiddenlayer_0/bias", "dnn/logits/bias"}
    with qtbot.waitSignal(window.training_controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        dialog.warm_start_button.click()
        qtbot.waitUntil(lambda: window.training_controller.new_dir_dialog is not None, timeout=WINDOW_TIMEOUT_MS)
        window.training_controller.new_dir_dialog.ok_button.click()
    event = started.args[0]
    assert Path(event.model_dir) == trained_10_10.parent / "trained-warm"
    assert any(f"warm-started {len(fitting)} variables" in note for note in event.notes), event.notes
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)


def test_use_the_checkpoints_network_resumes_in_place(qtbot, window, trained_10_10: Path):
    dialog = ask(qtbot, window, trained_10_10, [20, 20])
    with qtbot.waitSignal(window.training_controller.started, timeout=TRAIN_TIMEOUT_MS) as started:
        dialog.adopt_button.click()
    event = started.args[0]
    assert window.config.hidden_units.units() == [10, 10]
    assert Path(event.model_dir) == trained_10_10
    assert Path(event.resumed_from).name == "model.ckpt-20" and event.start_step == 20
    qtbot.waitUntil(lambda: window.training_controller.session is None, timeout=TRAIN_TIMEOUT_MS)
    assert scan(trained_10_10).latest_step == 40
