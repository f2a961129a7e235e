"""The installed Qt binding keeps Python's reference counts: PySide6 6.12.0 on Python 3.11 does not.

Under 6.12.0 every call of a void method (``setText``, ``start``, ``repaint``…)
takes a reference from ``None`` and every ``Signal.emit`` one from ``True``;
the window then aborts with "Fatal Python error: none_dealloc" after enough of
them. pyproject.toml excludes that release; this test catches it if it comes back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel


class Emitter(QObject):
    number = Signal(int)


def test_void_calls_and_emits_keep_reference_counts(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    timer = QTimer()
    emitter = Emitter()
    received: list[int] = []
    emitter.number.connect(received.append)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(5000):
        label.setText(str(i))
        timer.start(1000)
        emitter.number.emit(i)
    timer.stop()
    assert len(received) == 5000
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
