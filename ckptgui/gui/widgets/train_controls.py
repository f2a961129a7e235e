"""Start / Pause / Stop and the progress of the run: step / total, steps/s, time left."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QToolButton, QWidget

from ckptgui.gui.widgets.live import LiveLabel, LiveProgressBar


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainControls(QWidget):
    """Buttons bound to the window's actions (so toolbar, menu and shortcuts agree) and a progress read-out."""

    def __init__(self, start: QAction, pause: QAction, stop: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.buttons: list[QToolButton] = []
        for column, action in enumerate((start, pause, stop)):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            layout.addWidget(button, 0, column)
            self.buttons.append(button)
        self.bar = LiveProgressBar()
        self.bar.setTextVisible(True)
        layout.addWidget(self.bar, 1, 0, 1, 3)
        self.rate = LiveLabel("– steps/s")
        self.left = LiveLabel("")
        self.left.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.rate, 2, 0, 1, 2)
        layout.addWidget(self.left, 2, 2)
        self._start_step = 0
        self.reset()

    def reset(self) -> None:
        """Another model_dir: nothing of the last run's progress stays on screen."""
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("idle")
        self.rate.setText("– steps/s")
        self.left.setText("")

    def begin(self, start_step: int, target_step: int) -> None:
        self._start_step = start_step
        self.bar.setRange(start_step, max(target_step, start_step + 1))
        self.bar.setValue(start_step)
        self.bar.setFormat(f"step {start_step:,} / {target_step:,}")
        self.rate.setText("– steps/s")
        self.left.setText("")

    def show_progress(self, step: int, target_step: int, steps_per_sec: float, elapsed: float) -> None:
        self.bar.setMaximum(max(target_step, self.bar.minimum() + 1))
        self.bar.show_value(step, f"step {step:,} / {target_step:,}")
        self.rate.setText(f"{steps_per_sec:,.0f} steps/s · {format_duration(elapsed)} elapsed")
        remaining = (target_step - step) / steps_per_sec if steps_per_sec > 0 else None
        self.left.setText(f"{format_duration(remaining)} left" if remaining is not None else "")

    def end(self, step: int, text: str) -> None:
        self.bar.setValue(min(step, self.bar.maximum()))
        self.bar.setFormat(f"{text} at step {step:,}")
        self.left.setText("")
