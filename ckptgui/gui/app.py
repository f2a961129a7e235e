"""Start the Qt application: the window paints first, TensorFlow loads after."""

from __future__ import annotations

import sys


def run_app(path: str | None = None, self_test: bool = False) -> int:
    from PySide6.QtWidgets import QApplication, QMainWindow

    from ckptgui import __version__

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle(f"ckptgui {__version__}")
    window.resize(1200, 800)
    window.show()
    if self_test:
        return 0
    return app.exec()
