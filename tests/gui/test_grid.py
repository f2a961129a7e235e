"""The plots' grid: lines at the axes' ticks, following the range and the log scale."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from ckptgui.gui.widgets.grid import light_axes


@pytest.fixture
def layout(qtbot):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.addPlot().plot(np.arange(1, 101, dtype=float), np.linspace(0.01, 10, 100))
    widget.show()
    qtbot.waitExposed(widget)
    return widget  # owns the plot: a test holds it while it uses the plot


@pytest.fixture
def plot(layout):
    return layout.ci.getItem(0, 0)


def test_lines_are_the_axes_ticks_and_follow_range_and_log_scale(qtbot, layout, plot):
    grid = light_axes(plot)
    plot.setRange(xRange=(0, 100), yRange=(0, 10), padding=0)
    qtbot.wait(10)
    view = plot.vb
    major_x, major_y = grid.lines()[0]
    assert major_x == list(plot.getAxis("bottom").tickValues(0, 100, view.width())[0][1])
    assert major_y == list(plot.getAxis("left").tickValues(0, 10, view.height())[0][1])
    assert all(0 <= x <= 100 for x in major_x) and len(major_x) >= 2

    plot.setRange(xRange=(0, 1000), padding=0)
    assert grid.lines()[0][0] != major_x  # the range moved: lines computed again
    assert max(grid.lines()[0][0]) > 100

    plot.setLogMode(y=True)
    plot.setRange(yRange=(-2, 1), padding=0)  # log10 units, as pyqtgraph plots a log scale
    ys = [y for _xs, level in grid.lines() for y in level]
    assert {-2.0, -1.0, 0.0, 1.0} <= set(np.round(ys, 9))
    image = layout.grab().toImage()  # painted without error, the lines inside the plot
    assert not image.isNull()


def test_axes_repaint_from_a_cache_and_the_grid_sits_behind_the_curves(layout, plot):
    grid = light_axes(plot)
    assert plot.getAxis("left").cacheMode() == plot.getAxis("left").CacheMode.DeviceCoordinateCache
    assert grid.zValue() < min(item.zValue() for item in plot.listDataItems())
    assert plot.getAxis("left").grid is False  # pyqtgraph's own plot-sized grid picture stays off
