"""Desktop notifications: a run started from the window ended while the user looked at something else.

Shown through the system tray's balloon (``QSystemTrayIcon.showMessage``, which Qt hands to the platform's
notification service: freedesktop notifications, the macOS notification centre, Windows toasts) where there is a
tray; ``sent`` is emitted for every notification either way, so the window and its tests see what was said.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from ckptgui.gui.icons import app_icon

SHOWN_MS = 10_000


class Notifier(QObject):
    sent = Signal(str, str)  # title, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tray: QSystemTrayIcon | None = None

    def notify(self, title: str, message: str, failed: bool = False) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(app_icon(), self)
                self._tray.setToolTip("ckptgui")
                self._tray.show()
            kind = QSystemTrayIcon.MessageIcon.Critical if failed else QSystemTrayIcon.MessageIcon.Information
            self._tray.showMessage(title, message, kind, SHOWN_MS)
        self.sent.emit(title, message)
