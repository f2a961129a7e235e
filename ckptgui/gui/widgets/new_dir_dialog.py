"""Asked before the window trains into a model_dir it makes: where it goes (a default beside the source, editable).

Nothing is created silently: "New model_dir", "Warm-start", "Continue in a new
model_dir" and the question before training into a foreign folder all go
through this dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ckptgui.gui.widgets.config_form import ERROR_STYLE
from ckptgui.storage import scheme_of


def default_new_dir(source: str, suffix: str) -> str:
    """``<source>-<suffix>`` beside ``source`` (``-2``, ``-3``… until the name is free); a bucket's source gets
    a folder in the home folder, since the new model_dir is written here."""
    if scheme_of(source):
        parent, name = Path.home(), source.rstrip("/").rsplit("/", 1)[-1] or "model"
    else:
        folder = Path(source).expanduser()
        parent, name = folder.parent, folder.name
    candidate = parent / f"{name}-{suffix}"
    number = 2
    while candidate.exists():
        candidate = parent / f"{name}-{suffix}-{number}"
        number += 1
    return str(candidate)


def new_dir_problem(text: str) -> str:
    """Why ``text`` cannot be a new model_dir; "" when it can (a new folder, or an existing empty one)."""
    if not text.strip():
        return "Enter a folder."
    if scheme_of(text):
        return "A new model_dir is written on this computer: enter a local folder."
    path = Path(text.strip()).expanduser()
    if path.is_file():
        return f"{path} is a file; enter a new or empty folder."
    if path.is_dir() and any(path.iterdir()):
        return f"{path} already holds files; enter a new or empty folder."
    return ""


class NewDirDialog(QDialog):
    """The path of the new model_dir, checked as it is typed; ``chosen`` carries it on OK."""

    def __init__(self, title: str, text: str, default: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newDirDialog")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        intro = QLabel(text)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.path = QLineEdit(default)
        self.path.setToolTip("The new model_dir: a folder that does not exist yet, or an empty one")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a folder")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        layout.addLayout(row)
        self.message = QLabel(" ")
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Train there")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.path.textChanged.connect(self._check)
        self._check()
        self.resize(640, self.sizeHint().height())

    def chosen_path(self) -> str:
        return str(Path(self.path.text().strip()).expanduser())

    def _check(self) -> None:
        problem = new_dir_problem(self.path.text())
        self.message.setText(problem or " ")  # the line keeps its height: the buttons never jump
        self.ok_button.setEnabled(not problem)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder for the new model_dir", self.path.text())
        if path:
            self.path.setText(path)

    def accept(self) -> None:
        if new_dir_problem(self.path.text()):
            return
        super().accept()


def ask_new_dir(parent: QWidget, title: str, text: str, default: str, then: Callable[[str], None]) -> NewDirDialog:
    """Open the dialog (window-modal); ``then(path)`` on OK, nothing on Cancel."""
    dialog = NewDirDialog(title, text, default, parent)
    dialog.accepted.connect(lambda: then(dialog.chosen_path()))
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog
