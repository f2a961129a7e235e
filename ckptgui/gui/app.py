"""Start the Qt application: the window paints first, TensorFlow loads after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import traceback
from types import TracebackType

ORGANIZATION = "ckptgui"
APPLICATION = "ckptgui"


def isolate_settings(folder: str) -> None:
    """Keep QSettings in ``folder`` (INI files): the self-test and the tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.SystemScope, folder)


def make_application() -> object:
    """The QApplication (created once), named so QSettings finds the right file."""
    from PySide6.QtWidgets import QApplication

    from ckptgui import __version__
    from ckptgui.gui.icons import app_icon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ckptgui")
    app.setWindowIcon(app_icon())
    return app


def _install_excepthook(window: object) -> None:
    """Uncaught errors in slots go to the window's error dialog as well as stderr, never to the console alone."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        previous(kind, value, tb)
        detail = "".join(traceback.format_exception(kind, value, tb))
        with contextlib.suppress(RuntimeError):  # the window is already gone
            window.report_error(f"Unexpected error: {value}", detail, title="ckptgui: unexpected error")

    sys.excepthook = hook


QUIT_POLL_MS = 100
_wakeup_sockets: list[socket.socket] = []  # open for the life of the process: the C handler writes to one


def quit_on_signals(app: object, window: object) -> None:
    """SIGTERM (kill, systemd, a session logging out) and Ctrl-C stop a run with a final checkpoint, keep every
    temporary model_dir, ask nothing, and quit once the run has ended; the same signal again ends at once.

    Python runs a signal handler only when the interpreter gets control, which Qt's event loop never gives it:
    the C-level handler writes the signal's number to a socket (``signal.set_wakeup_fd``) and a
    ``QSocketNotifier`` on the other end wakes the event loop.
    """
    from PySide6.QtCore import QSocketNotifier, QTimer

    receive, send = socket.socketpair()
    for end in (receive, send):
        end.setblocking(False)
    signal.set_wakeup_fd(send.fileno())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: None)  # caught: the work is done on the event loop
    notifier = QSocketNotifier(receive.fileno(), QSocketNotifier.Type.Read, app)
    closed = QTimer(app, interval=QUIT_POLL_MS)
    closed.timeout.connect(lambda: window.isVisible() or app.quit())  # dialogs left open do not keep it alive

    def arrived() -> None:
        with contextlib.suppress(OSError):
            receive.recv(64)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        print("ckptgui: stopping (a final checkpoint if training; send the signal again to abort)", file=sys.stderr)
        window.quit_without_asking()
        closed.start()

    notifier.activated.connect(arrived)
    _wakeup_sockets.extend((receive, send))


def run_app(path: str | None = None, self_test: bool = False) -> int:
    """Open the window (on ``path``, a model_dir, if given) and run until it closes; or run the self-test."""
    if self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = make_application()
    if self_test:
        isolate_settings(tempfile.mkdtemp(prefix="ckptgui-selftest-settings-"))
    from PySide6.QtWidgets import QMessageBox

    try:
        from ckptgui.gui.main_window import MainWindow

        window = MainWindow()
    except Exception as exc:  # noqa: BLE001 - users without a console still see why the window did not open
        traceback.print_exc()
        if not self_test:
            QMessageBox.critical(None, "ckptgui cannot start", f"{exc}\n\n{traceback.format_exc()}")
        return 1
    app.aboutToQuit.connect(window.shutdown)
    if path is not None:
        window.firstPainted.connect(lambda: window.open_model_dir(path))
    if self_test:
        from ckptgui.gui.self_test import run_self_test

        return run_self_test(window)
    _install_excepthook(window)
    quit_on_signals(app, window)
    window.show()
    return app.exec()
