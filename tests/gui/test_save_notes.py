"""A checkpoint save's note (retention skipped: the pins file is damaged) reaches the window's status bar."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import TRAIN_TIMEOUT_MS, configure, small_spec


def test_a_pins_file_damaged_mid_run_is_said_in_the_status_bar(qtbot, window, tmp_path: Path):
    spec = small_spec(tmp_path / "run", steps=400, save_checkpoints_steps=20, keep_checkpoint_max=1)
    configure(qtbot, window, spec)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(lambda text: text and messages.append(text))

    def damage_on_start(text: str) -> None:
        if text.startswith("Training steps"):  # the run checked the pins file before it started: damage it now
            (tmp_path / "run" / "ckptgui_pins.json").write_bytes(b"{broken")

    window.statusBar().messageChanged.connect(damage_on_start)
    with qtbot.waitSignal(window.training_controller.finished, timeout=TRAIN_TIMEOUT_MS):
        window.window_actions.start.trigger()
    noted = [m for m in messages if "note: nothing swept" in m]
    assert noted, messages
    assert "ckptgui_pins.json" in noted[-1] and noted[-1].startswith("Step ")
