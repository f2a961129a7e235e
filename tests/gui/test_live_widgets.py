"""Widgets for values that change many times a second cost the GUI thread only a scheduled repaint."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject

from ckptgui.gui.widgets.live import LiveLabel, LiveProgressBar


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_progress_bar_repaints_after_the_call_not_inside_it(qtbot):
    bar = LiveProgressBar()
    qtbot.addWidget(bar)
    bar.setRange(0, 1000)
    bar.show()
    qtbot.waitExposed(bar)
    counter = PaintCounter()
    bar.installEventFilter(counter)
    bar.show_value(250, "step 250 / 1,000")
    assert counter.paints == 0
    assert (bar.value(), bar.format(), bar.updatesEnabled()) == (250, "step 250 / 1,000", True)
    qtbot.waitUntil(lambda: counter.paints > 0)


def test_live_label_keeps_its_size_and_skips_identical_text(qtbot):
    label = LiveLabel("short")
    qtbot.addWidget(label)
    label.show()
    hint = label.sizeHint().height()
    label.setText("a much longer text that a plain label would grow for " * 3)
    assert label.sizeHint().height() == hint and label.sizePolicy().horizontalPolicy().name == "Ignored"
    assert label.toolTip().startswith("a much longer text")
