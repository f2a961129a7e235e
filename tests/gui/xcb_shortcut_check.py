"""Run by test_shortcuts_over_fields.py under a real X server (Xvfb, the xcb platform), where a QLineEdit binds
Ctrl+E to "end of line" (the offscreen platform binds no Emacs keys). Prints what happened, one line each."""

from __future__ import annotations

import sys
import tempfile

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ckptgui.gui.app import isolate_settings
from ckptgui.gui.main_window import MainWindow


def main() -> int:
    app = QApplication(sys.argv)
    isolate_settings(tempfile.mkdtemp(prefix="ckptgui-xcb-settings-"))
    bindings = [k.toString() for k in QKeySequence.keyBindings(QKeySequence.StandardKey.MoveToEndOfLine)]
    print(f"platform {app.platformName()} end-of-line {bindings}")
    window = MainWindow()
    window.tensorflow_ready = True  # the shortcut needs no engine: skip loading TensorFlow after the first paint
    window.show()
    QTest.qWaitForWindowExposed(window)
    field = window.config.learning_rate
    window.activateWindow()
    field.setFocus()
    QTest.qWait(200)
    print(f"focus {QApplication.focusWidget() is field}")
    opened: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        opened.append(dialog.windowTitle() if dialog else "")
        if dialog:
            dialog.reject()

    QTimer.singleShot(500, answer)
    QTest.keyClick(field, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    QTest.qWait(800)
    print(f"opened {opened}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
