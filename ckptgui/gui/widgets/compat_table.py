"""A compatibility report as a table (variable, expected shape, found shape, verdict), mismatches marked."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ckptgui.modeldir.compat import CompatReport

MISMATCH_BACKGROUND = QColor(253, 226, 224)
FIT_TEXT = "fits"
KIND_TEXT = {
    "shape": "shape differs",
    "missing": "missing",
    "unexpected": "not expected",
    "dtype": "dtype differs",
}


def _shape(shape: list[int] | None) -> str:
    return "—" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


class CompatTable(QWidget):
    """Summary line above a table of every compared variable; notes and ways out below."""

    def __init__(self, expected: str = "config", found: str = "checkpoint", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Variable", expected.capitalize(), found.capitalize(), "Verdict"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the report's order first
        self.table.setSortingEnabled(True)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        self.clear()

    def clear(self, text: str = "") -> None:
        self.summary.setText(text)
        self.table.setRowCount(0)
        self.notes.setText("")
        self.notes.hide()

    def set_report(self, report: CompatReport, shapes: dict[str, list[int]] | None = None) -> None:
        """Show a CompatReport; ``shapes`` (name -> stored shape) fills in the rows of fitting variables."""
        shapes = shapes or {}
        colour = "#1b5e20" if report.compatible else "#b3261e"
        mark = "✔" if report.compatible else "✘"
        self.summary.setText(f"<span style='color:{colour}'><b>{mark}</b> {report.summary}</span>")
        # Mismatches first: they are what the reader came for.
        rows = [(m.variable, m.expected, m.found, KIND_TEXT.get(m.kind, m.kind)) for m in report.mismatches]
        rows += [(name, shapes.get(name), shapes.get(name), FIT_TEXT) for name in report.fitting]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for row, (name, expected, found, verdict) in enumerate(rows):
            bad = verdict != FIT_TEXT
            for column, text in enumerate((name, _shape(expected), _shape(found), verdict)):
                item = QTableWidgetItem(text)
                if bad:
                    item.setBackground(QBrush(MISMATCH_BACKGROUND))
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        # The report's remedies are worded as CLI flags; in the window the ways out are its buttons.
        extra = [f"note: {n}" for n in report.notes]
        self.notes.setText("\n".join(extra))
        self.notes.setVisible(bool(extra))

    def mismatched_rows(self) -> list[str]:
        """Variable names of the rows marked as mismatches."""
        names = []
        for row in range(self.table.rowCount()):
            if self.table.item(row, 3).text() != FIT_TEXT:
                names.append(self.table.item(row, 0).text())
        return names
