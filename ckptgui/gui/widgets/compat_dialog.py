"""Asked before training into a model_dir whose checkpoint does not fit the config: what to do instead."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from ckptgui.gui.icons import icon
from ckptgui.gui.widgets.compat_table import CompatTable
from ckptgui.modeldir.compat import CompatReport

NEW_DIR = "new_dir"
WARM_START = "warm_start"
ADOPT = "adopt"
CANCEL = "cancel"


class IncompatibleDialog(QDialog):
    """The mismatch table and four ways out; emits ``chosen`` with NEW_DIR, WARM_START, ADOPT or CANCEL."""

    chosen = Signal(str)

    def __init__(
        self,
        report: CompatReport,
        model_dir: str,
        n_features: int,
        shapes: dict[str, list[int]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("The checkpoint does not fit this config")
        self.resize(820, 460)
        self.choice = CANCEL
        self.report = report
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>{model_dir}</b> holds a checkpoint that does not fit the network in the form. "
            "Resuming from it is refused; nothing has been written."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = CompatTable()
        self.table.set_report(report, shapes)
        layout.addWidget(self.table, 1)
        ways = QLabel(
            "Ways out: <b>New model_dir</b> trains this config from scratch in a new folder; "
            "<b>Warm-start</b> does so with the variables whose shapes fit copied from this checkpoint; "
            "<b>Use its network</b> sets the form to the checkpoint's network and resumes here. "
            "You choose where a new model_dir goes."
        )
        ways.setWordWrap(True)
        layout.addWidget(ways)

        buttons = QDialogButtonBox()
        self.new_dir_button = QPushButton(icon("new-dir"), "New model_dir…")
        self.new_dir_button.setToolTip("Leave this model_dir alone and start fresh in a new one (you choose where)")
        fit = len(report.fitting)
        self.warm_start_button = QPushButton(icon("continue"), f"Warm-start {fit} fitting variable{'s' * (fit != 1)}…")
        self.warm_start_button.setToolTip(
            "Start a new model_dir whose variables are copied from this checkpoint where the shapes fit"
        )
        self.warm_start_button.setEnabled(bool(report.fitting))
        network = report.checkpoint_network
        self.adopt_button = QPushButton(icon("adopt"), "Use its network")
        adoptable = network is not None and not network.single_logit and network.n_features == n_features
        self.adopt_button.setEnabled(adoptable)
        if network is not None and not adoptable:
            self.adopt_button.setToolTip(
                f"The checkpoint takes {network.n_features} features; the data has {n_features}"
                if network.n_features != n_features
                else "The checkpoint has Estimator's single-logit head, which ckptgui does not train"
            )
        elif network is not None:
            units = ", ".join(str(u) for u in network.hidden_units)
            self.adopt_button.setToolTip(f"Set hidden_units [{units}] and {network.n_classes} classes, then resume")
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        for button, role, choice in (
            (self.new_dir_button, QDialogButtonBox.ButtonRole.AcceptRole, NEW_DIR),
            (self.warm_start_button, QDialogButtonBox.ButtonRole.AcceptRole, WARM_START),
            (self.adopt_button, QDialogButtonBox.ButtonRole.AcceptRole, ADOPT),
        ):
            buttons.addButton(button, role)
            button.clicked.connect(lambda _=False, c=choice: self._choose(c))
        self.cancel_button.clicked.connect(lambda: self._choose(CANCEL))
        layout.addWidget(buttons)

    @Slot(str)
    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.chosen.emit(choice)
        self.done(QDialog.DialogCode.Rejected if choice == CANCEL else QDialog.DialogCode.Accepted)

    def reject(self) -> None:
        """Escape and the window's close button mean Cancel."""
        if self.choice == CANCEL and self.isVisible():
            self.chosen.emit(CANCEL)
        super().reject()
