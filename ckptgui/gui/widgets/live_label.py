"""A one-line label for text that changes many times a second (progress, read-outs, headers).

A plain QLabel asks for a new size when its text changes; the layout then
moves its neighbours and Qt repaints the whole splitter or dock around it —
measured at about 2 ms of GUI-thread time per change, paid by the trainer for
the GIL. This one keeps its size whatever the text (long text is elided by
clipping) and skips identical updates, so a change repaints only the label.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class LiveLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() + 4)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def setText(self, text: str) -> None:
        if text != self.text():
            super().setText(text)
            self.setToolTip(text if self.textFormat() != Qt.TextFormat.RichText else "")
