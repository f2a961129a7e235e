"""The temporary model_dirs this run of the app created, and the offer to delete them when the window closes.

Only folders made here by :meth:`TemporaryDirs.create` are ever offered for
deletion: a folder the user typed, opened or chose is never on the list, so the
app cannot delete what it did not write.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ckptgui.units import human_size

PREFIX = "ckptgui-"


class TemporaryDirs:
    """Creates temporary model_dirs (``ckptgui-*`` in the system's temp folder) and remembers them."""

    def __init__(self) -> None:
        self._created: list[Path] = []

    def create(self, tag: str = "") -> str:
        path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{tag}"))
        self._created.append(path)
        return str(path)

    def keep(self, path: str) -> None:
        """The user keeps ``path``: it is no longer offered for deletion."""
        self._created = [p for p in self._created if p != Path(path)]

    def leftovers(self) -> list[Path]:
        """The created folders that still exist, oldest first."""
        return [p for p in self._created if p.is_dir()]

    def delete(self, paths: list[Path]) -> list[str]:
        """Delete those of ``paths`` this object created; returns the problems (one line each)."""
        problems = []
        for path in paths:
            if path not in self._created:
                problems.append(f"{path}: not a temporary model_dir of this session; left alone")
                continue
            try:
                shutil.rmtree(path)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
            self._created.remove(path)
        return problems


def _size(path: Path) -> str:
    return human_size(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()))


class LeftoversDialog(QDialog):
    """One checkable row per temporary model_dir; Delete removes the checked ones, Keep all keeps every one."""

    def __init__(self, dirs: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leftoversDialog")
        self.setWindowTitle("Temporary model_dirs")
        layout = QVBoxLayout(self)
        text = QLabel(
            f"This session created {len(dirs)} temporary model_dir{'s' * (len(dirs) != 1)}. "
            "Delete the checked ones? Uncheck those you want to keep; nothing else is touched."
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.list = QListWidget()
        for path in dirs:
            item = QListWidgetItem(f"{path}  ({_size(path)})")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox()
        self.delete_button = buttons.addButton("Delete checked and quit", QDialogButtonBox.ButtonRole.AcceptRole)
        self.keep_button = buttons.addButton("Keep all and quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.choice: str | None = None
        self.delete_button.clicked.connect(lambda: self._answer("delete"))
        self.keep_button.clicked.connect(lambda: self._answer("keep"))
        self.cancel_button.clicked.connect(lambda: self._answer("cancel"))
        layout.addWidget(buttons)
        self.resize(640, 300)

    def checked(self) -> list[Path]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [Path(i.data(Qt.ItemDataRole.UserRole)) for i in items if i.checkState() == Qt.CheckState.Checked]

    def _answer(self, choice: str) -> None:
        self.choice = choice
        self.done(QDialog.DialogCode.Accepted if choice != "cancel" else QDialog.DialogCode.Rejected)


def ask_about_leftovers(
    parent: QWidget, dirs: TemporaryDirs, then: Callable[[bool, list[str]], None]
) -> LeftoversDialog:
    """Open the dialog; ``then(quit, problems)`` once answered (quit False: Cancel, the window stays)."""
    dialog = LeftoversDialog(dirs.leftovers(), parent)

    def answered() -> None:
        if dialog.choice == "delete":
            then(True, dirs.delete(dialog.checked()))
        else:
            if dialog.choice == "keep":
                for path in dirs.leftovers():
                    dirs.keep(str(path))
            then(dialog.choice == "keep", [])

    dialog.finished.connect(answered)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
