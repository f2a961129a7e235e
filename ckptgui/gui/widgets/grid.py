"""Grid lines and axes that cost little to repaint when a plot's range moves (live runs move it often).

pyqtgraph draws a plot's grid as part of each axis' picture: with the grid on, each axis covers the whole plot,
so a range move repaints a plot-sized picture per axis. Measured on the runs view while ten runs trained (3 plots,
offscreen): every paint that followed a range move took 10-20 ms longer with the grid on, and the GUI heartbeat's
p99 went from 21-23 ms without the grid to 44-61 ms with it. :class:`TickGrid` draws the same lines (at the axes'
major and minor ticks) as one item inside the plot, with the curves: a few dozen cosmetic lines, no picture, no
cache to rebuild.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsItem

GRID_ALPHA = (60, 25)  # major ticks' lines, minor ticks' lines (0-255), on a white background


class TickGrid(pg.GraphicsObject):
    """Lines across ``plot`` at its bottom and left axes' tick values (log scale included), behind the curves."""

    def __init__(self, plot: pg.PlotItem) -> None:
        super().__init__()
        self._plot = plot
        self._lines: list[tuple[list[float], list[float]]] = []
        self._lines_for: tuple = ()  # the range, size and log modes they were computed for
        self.setZValue(-100)
        plot.vb.sigRangeChanged.connect(self._moved)
        plot.vb.sigResized.connect(self._moved)
        plot.addItem(self, ignoreBounds=True)

    def _moved(self, *_args: Any) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._plot.vb.viewRect()

    def lines(self) -> list[tuple[list[float], list[float]]]:
        """Per tick level (major first): the x values of its vertical lines and the y values of its horizontal ones.

        Kept until the plot's range, size or log scale changes: the axes' tick values cost more than the lines'
        paint (1.2 ms a paint, computed each time).
        """
        view = self._plot.vb
        now = (
            view.viewRange(),
            view.width(),
            view.height(),
            self._plot.getAxis("bottom").logMode,
            self._plot.getAxis("left").logMode,
        )
        if now != self._lines_for:
            self._lines, self._lines_for = self._tick_lines(), now
        return self._lines

    def _tick_lines(self) -> list[tuple[list[float], list[float]]]:
        view = self._plot.vb
        (x_low, x_high), (y_low, y_high) = view.viewRange()
        across = self._plot.getAxis("bottom").tickValues(x_low, x_high, max(1.0, view.width()))
        up = self._plot.getAxis("left").tickValues(y_low, y_high, max(1.0, view.height()))
        levels = max(len(across), len(up))
        return [
            (
                list(across[level][1]) if level < len(across) else [],
                list(up[level][1]) if level < len(up) else [],
            )
            for level in range(min(levels, len(GRID_ALPHA)))
        ]

    def paint(self, painter: QPainter, *_args: Any) -> None:
        rect = self.boundingRect()
        view = self._plot.vb
        for alpha, (xs, ys) in zip(GRID_ALPHA, self.lines(), strict=False):
            # Dense levels fade, as pyqtgraph's own grid does: full strength at 20 pixels or more between lines.
            for values, pixels, line in (
                (xs, view.width(), lambda x: QLineF(x, rect.top(), x, rect.bottom())),
                (ys, view.height(), lambda y: QLineF(rect.left(), y, rect.right(), y)),
            ):
                strength = min(1.0, 0.05 * pixels / (len(values) + 1))
                if values and strength > 0:
                    painter.setPen(pg.mkPen(QColor(0, 0, 0, round(alpha * strength)), width=0))  # width 0: 1 pixel
                    painter.drawLines([line(value) for value in values])


def light_axes(plot: pg.PlotItem) -> TickGrid:
    """A plot's grid as a :class:`TickGrid`, and its axes redrawn from a pixmap until their range moves."""
    for side in ("left", "bottom"):
        plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return TickGrid(plot)
