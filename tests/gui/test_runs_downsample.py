"""The runs view's peak downsampling: every pixel column keeps the raw series' minimum and maximum (Qt-free)."""

import numpy as np

from ckptgui.gui.widgets.runs_downsample import peak_downsample


def _columns(x: np.ndarray, low: float, high: float, columns: int) -> np.ndarray:
    return np.minimum(((x - low) * (columns / (high - low))).astype(np.int64), columns - 1)


def test_each_pixel_column_keeps_its_min_and_max():
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.uniform(0.1, 3.0, 20_000))
    y = np.sin(x / 50) + rng.normal(0, 0.3, x.size)
    y[[500, 9000, 15000]] = [40.0, -40.0, np.nan]  # spikes stay; a NaN is skipped, not spread
    low, high, columns = float(x[3000]) + 0.5, float(x[17000]) - 0.5, 300
    dx, dy = peak_downsample(x, y, low, high, columns)
    assert dx.size <= 2 * columns + 2 and np.all(np.diff(dx) >= 0)
    inside = (x >= low) & (x <= high)
    raw_column = _columns(x[inside], low, high, columns)
    drawn = (dx >= low) & (dx <= high)
    drawn_column = _columns(dx[drawn], low, high, columns)
    for column in np.unique(raw_column):
        raw = y[inside][raw_column == column]
        got = dy[drawn][drawn_column == column]
        assert np.nanmin(got) == np.nanmin(raw) and np.nanmax(got) == np.nanmax(raw)
    # the nearest point beyond each end is kept, so the line reaches the plot's edges
    assert dx[0] == x[3000] and dx[-1] == x[17000]


def test_few_points_and_empty_ranges_come_back_unchanged():
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    dx, dy = peak_downsample(x, y, 2.5, 6.5, 100)
    np.testing.assert_array_equal(dx, x[2:8])
    np.testing.assert_array_equal(dy, y[2:8])
    dx, dy = peak_downsample(x, y, 20.0, 30.0, 100)
    np.testing.assert_array_equal(dx, x[9:])
    assert peak_downsample(x[:0], y[:0], 0.0, 1.0, 10)[0].size == 0
