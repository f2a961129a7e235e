"""Peak downsampling of a curve to the visible x range, in numpy (Qt-free).

Ten live runs' curves redrawn at every poll: pyqtgraph's own downsampling and clipping run again for every curve
whenever the x range moves, and paint more points than pixels. Handing it at most two points per pixel column
(the column's minimum and maximum, at the column's first x) keeps every spike visible and every paint short.
"""

from __future__ import annotations

import numpy as np


def peak_downsample(
    x: np.ndarray, y: np.ndarray, low: float, high: float, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``x``, ``y`` (x ascending) to draw between ``low`` and ``high`` on ``columns`` pixel columns.

    Inside the range, each column with more than two points keeps two: its minimum and its maximum (NaN ignored),
    at the x of its first point, minimum first. The nearest point outside each end is kept as it is, so the line
    runs to the plot's edges. Few points (at most two per column) come back unchanged.
    """
    x, y = np.asarray(x), np.asarray(y)
    first = max(0, int(np.searchsorted(x, low, "left")) - 1)
    last = min(x.size, int(np.searchsorted(x, high, "right")) + 1)
    x, y = x[first:last], y[first:last]
    columns = max(1, int(columns))
    if x.size <= 2 * columns or not high > low:
        return x, y
    inside = np.flatnonzero((x >= low) & (x <= high))
    if inside.size <= 2 * columns:
        return x, y
    a, b = int(inside[0]), int(inside[-1]) + 1
    xs, ys = x[a:b], y[a:b]
    column = np.minimum(((xs - low) * (columns / (high - low))).astype(np.int64), columns - 1)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(column)) + 1))
    with np.errstate(invalid="ignore"):
        lows, highs = np.fmin.reduceat(ys, starts), np.fmax.reduceat(ys, starts)
    out_x = np.repeat(xs[starts], 2)
    out_y = np.empty(out_x.size, dtype=np.result_type(ys.dtype, np.float64))
    out_y[0::2], out_y[1::2] = lows, highs
    return np.concatenate((x[:a], out_x, x[b:])), np.concatenate((y[:a], out_y, y[b:]))
