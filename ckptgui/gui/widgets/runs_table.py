"""The runs table's Qt model: one row per run, its colour swatch, and sorting by raw values (numbers as numbers)."""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from ckptgui.gui.widgets.plots import RUN_COLORS
from ckptgui.modeldir.runs import RunRow, cell_text, table_columns


def run_color(index: int) -> QColor:
    """The colour of the ``index``-th run seen: the plots' palette first, then evenly spaced hues."""
    if index < len(RUN_COLORS):
        return QColor(RUN_COLORS[index])
    return pg.intColor(index - len(RUN_COLORS), hues=17, values=1, maxValue=200)


def _sort_key(value: Any) -> tuple:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


class RunsTableModel(QAbstractTableModel):
    """The runs table: one row per run; columns from :func:`~ckptgui.modeldir.runs.table_columns`."""

    def __init__(self, colors: dict[str, QColor], parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RunRow] = []
        self.columns: list[str] = []
        self._colors = colors
        self._cells: list[list[tuple[str, Any]]] = []  # each row's (text, raw value) per column, as shown

    def set_rows(self, rows: list[RunRow], changed: set[str] | None = None) -> bool:
        """Show ``rows``; True when the set of rows or columns changed (the selection must then be restored).

        ``changed`` names the rows whose values changed (None: any may have). Only the cells of those whose text
        or value changed are announced, one by one: each announced row is sorted and filtered again, one Python
        comparison after another, and an announced span of cells is painted again whole (a live run's steps and
        times change at every poll, its specs and checkpoints seldom; ten rows' repaint took 8-10 ms here).
        """
        same_rows = [r.name for r in rows] == [r.name for r in self.rows]
        specs_kept = (
            same_rows
            and changed is not None
            and all(new.spec == old.spec for new, old in zip(rows, self.rows, strict=True) if new.name in changed)
        )
        columns = self.columns if specs_kept else table_columns(rows)
        if columns == self.columns and same_rows:
            self.rows = rows
            for index, row in enumerate(rows):
                if changed is None or row.name in changed:
                    cells = self._cells_of(row)
                    before, self._cells[index] = self._cells[index], cells
                    for column, cell in enumerate(cells):
                        if cell != before[column] or (column == 0 and row.problem):
                            self.dataChanged.emit(self.index(index, column), self.index(index, column))
            return False
        self.beginResetModel()
        self.rows, self.columns = rows, columns
        self._cells = [self._cells_of(row) for row in rows]
        self.endResetModel()
        return True

    def _cells_of(self, row: RunRow) -> list[tuple[str, Any]]:
        return [(cell_text(row, column), row.value(column)) for column in self.columns]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()][0]
        if role == Qt.ItemDataRole.UserRole:
            return self._cells[index.row()][index.column()][1]
        row, column = self.rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DecorationRole and column == "run":
            return self._colors.get(row.name)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.path}\n{row.problem}" if row.problem else row.path
        return None


class RunsSortProxy(QSortFilterProxyModel):
    """Sorts by the raw values (numbers as numbers, unknowns last); filters on any column's text."""

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        role = Qt.ItemDataRole.UserRole
        return _sort_key(left.data(role)) < _sort_key(right.data(role))
