"""Widgets for values that change many times a second (progress, read-outs, headers).

While a run trains, every millisecond the GUI thread spends in a Python call
(GIL held) is a millisecond the trainer may wait for. These widgets make a
change cost only a scheduled repaint of themselves, which Qt then does from its
event loop in C++ with the GIL free.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QWidget


class LiveLabel(QLabel):
    """A label that keeps its size whatever the text and skips identical updates.

    A plain QLabel asks for a new size when its text changes; the layout then
    moves its neighbours and Qt repaints the whole splitter or dock around it —
    measured at about 2 ms of GUI-thread time per change. Long text is clipped.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() + 4)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def setText(self, text: str) -> None:
        if text != self.text():
            super().setText(text)
            self.setToolTip(text if self.textFormat() != Qt.TextFormat.RichText else "")


class LiveProgressBar(QProgressBar):
    """A progress bar whose updates repaint later, not inside the call.

    ``QProgressBar.setValue`` repaints synchronously whenever the text changes
    (about 1 ms, inside the Python call); with updates disabled around the
    change, re-enabling them schedules one ordinary repaint instead.
    """

    def show_value(self, value: int, text: str) -> None:
        self.setUpdatesEnabled(False)
        try:
            self.setValue(value)
            self.setFormat(text)
        finally:
            self.setUpdatesEnabled(True)
