"""The window's actions (with their shortcuts and tips), its menus and its toolbar.

Only what each action is: text, icon, keys, tip. What an action does is
connected by the window, which owns the views the actions act on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ckptgui import __version__
from ckptgui.gui.icons import icon
from ckptgui.gui.training_controller import short_path

TAB_NAMES = ("Monitor", "Restore", "Compare")
Keys = QKeySequence.StandardKey | str | list[str] | None


class WindowActions:
    """Every action of the main window, parented to it so their shortcuts work anywhere in it."""

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        key = QKeySequence.StandardKey
        self.open = self._action("open", "&Open model_dir…", key.Open, "Open a model_dir")
        self.open_url = self._action(
            "open", "Open &URL…", "Ctrl+U", "Open a model_dir in a bucket (gs://bucket/path, s3://bucket/path)"
        )
        self.new_dir = self._action(
            "new-dir", "&New temporary model_dir", key.New, "Train into a fresh temporary model_dir"
        )
        self.file_manager = self._action(
            "file-manager", "Show in &file manager", "Ctrl+Shift+O", "Open the model_dir in the file manager"
        )
        self.refresh = self._action("reload", "&Refresh", ["Ctrl+Shift+R"], "Read the model_dir again")
        self.export_png = self._action("export-png", "Export plots as &PNG…", "Ctrl+E", "Save the plots as an image")
        self.export_csv = self._action(
            "export-csv", "Export scalars as &CSV…", "Ctrl+Shift+E", "Save every plotted point"
        )
        self.quit = self._action("quit", "&Quit", key.Quit, "Close the window")
        self.start = self._action("start", "&Start", ["F5", "Ctrl+Return"], "Start training with this config")
        self.pause = self._action("pause", "&Pause", "F6", "Pause or resume training")
        self.stop = self._action("stop", "S&top", "Shift+F5", "Stop training (writes a final checkpoint)")
        self.restore = self._action("restore", "&Restore selected step", "Ctrl+R", "Restore the selected checkpoint")
        self.compare = self._action("compare", "&Compare steps", "Ctrl+D", "Compare two checkpoints")
        self.log_scale = self._action("", "&Log scale", "Ctrl+L", "Logarithmic y axis on the plots")
        self.log_scale.setCheckable(True)
        self.help = self._action("help", "&Keyboard shortcuts", key.HelpContents, "")
        self.tabs = [
            self._action("", name, f"Ctrl+{i + 1}", f"Show the {name} view") for i, name in enumerate(TAB_NAMES)
        ]
        self.recent_menu = QMenu("Open &recent", window)
        self.over_fields = ShortcutsOverFields(self.all(), window)

    def all(self) -> list[QAction]:
        """Every action with keys."""
        return [a for a in vars(self).values() if isinstance(a, QAction)] + self.tabs

    def _action(self, name: str, text: str, shortcut: Keys, tip: str) -> QAction:
        action = QAction(icon(name), text, self._window)
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # the floating dock too; modal blocks
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('…', '')} ({shown})" if shown else tip or text)
        action.setStatusTip(tip or text)
        self._window.addAction(action)
        return action

    def fill_recent_menu(self, dirs: list[str], open_dir: Callable[[str], object], clear: Callable[[], None]) -> None:
        """One entry per recently opened model_dir (most recent first), then "Clear list"."""
        menu = self.recent_menu
        menu.clear()
        for index, path in enumerate(dirs):
            action = menu.addAction(f"&{index + 1} {short_path(path)}")
            action.setData(path)
            action.triggered.connect(lambda _=False, p=path: open_dir(p))
        if dirs:
            menu.addSeparator()
            menu.addAction("Clear list", clear)
        menu.setEnabled(bool(dirs))

    def build_menus(self, config_dock: QDockWidget, show_about: Callable[[], None]) -> None:
        bar = self._window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open)
        file_menu.addAction(self.open_url)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.new_dir)
        file_menu.addAction(self.file_manager)
        file_menu.addSeparator()
        file_menu.addAction(self.export_png)
        file_menu.addAction(self.export_csv)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        train_menu = bar.addMenu("&Train")
        for action in (self.start, self.pause, self.stop):
            train_menu.addAction(action)
        checkpoints = bar.addMenu("&Checkpoints")
        for action in (self.restore, self.compare, self.refresh):
            checkpoints.addAction(action)
        view = bar.addMenu("&View")
        view.addAction(config_dock.toggleViewAction())
        view.addAction(self.log_scale)
        view.addSeparator()
        for action in self.tabs:
            view.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.help)
        help_menu.addAction("&About ckptgui", show_about)

    def build_toolbar(self) -> QToolBar:
        toolbar = self._window.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open, self.new_dir, None, self.start, self.pause, self.stop, None, self.restore,
                       self.compare, None, self.export_png, self.export_csv):  # fmt: skip
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        return toolbar

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(action, its keys) for the shortcuts dialog, in the order a user meets them."""
        actions = [self.open, self.new_dir, self.file_manager, self.start, self.pause, self.stop, self.restore,
                   self.compare, self.refresh, self.export_png, self.export_csv, self.log_scale, *self.tabs,
                   self.help, self.quit]  # fmt: skip
        rows = []
        for action in actions:
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            rows.append((action.text().replace("&", "").replace("…", ""), keys))
        return rows


class ShortcutsOverFields(QObject):
    """The window's shortcuts win over a text field's own key bindings (Ctrl+E is "end of line" in a QLineEdit).

    A focused text field accepts ``ShortcutOverride`` for keys it binds, and Qt then hands it the key instead of
    the shortcut. This filter sits on the focused widget only (not on the application, which would put Python in
    the path of every event) and withholds that override for the keys of an enabled window action.
    """

    def __init__(self, actions: list[QAction], parent: QObject) -> None:
        super().__init__(parent)
        self._actions = actions
        self._watched: QWidget | None = None
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._watched is not None:
            with contextlib.suppress(RuntimeError):  # already deleted by Qt
                self._watched.removeEventFilter(self)
        self._watched = new
        if new is not None:
            new.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(event, QKeyEvent):
            return False
        top = watched.window() if isinstance(watched, QWidget) else None
        if top is not self.parent() and not isinstance(top, QDockWidget):
            return False  # a dialog's field keeps its keys: the window's shortcuts are blocked there anyway
        pressed = QKeySequence(event.keyCombination())
        for action in self._actions:
            if action.isEnabled() and any(k.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch
                                          for k in action.shortcuts()):  # fmt: skip
                event.ignore()
                return True  # not delivered: the field does not claim the key, the shortcut fires
        return False


def show_about(parent: QWidget) -> None:
    QMessageBox.about(
        parent,
        "About ckptgui",
        f"<b>ckptgui {__version__}</b><br>A desktop checkpoint manager for TensorFlow training.<br>"
        f"Python {sys.version.split()[0]}",
    )


def show_shortcuts(parent: QWidget, rows: list[tuple[str, str]]) -> None:
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard shortcuts")
    layout = QVBoxLayout(dialog)
    text = QTextBrowser()
    cells = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in rows)
    text.setHtml(f"<table cellpadding='4'>{cells}</table>")
    layout.addWidget(text)
    dialog.resize(420, 480)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
