"""TensorBoard's smoothing of a scalar curve, continued point by point as new values arrive."""

from __future__ import annotations

import math

import numpy as np

EmaState = tuple[float, int, float, float]  # raw EMA, points so far, lowest and highest value so far
EMA_START: EmaState = (0.0, 0, math.inf, -math.inf)


def ema(values: np.ndarray, weight: float, state: EmaState = EMA_START) -> tuple[np.ndarray, EmaState]:
    """TensorBoard's smoothing: a debiased EMA that skips non-finite values; ``state`` continues a previous call.

    Vectorised in blocks: inside a block of k points the recurrence
    ``s = w·s + (1-w)·x`` is ``w^j·(w·s0 + (1-w)·cumsum(x·w^-i))``, with k kept
    small enough that ``w^-k`` stays far from overflow. An average lies within
    the values seen so far; clipping to them removes the rounding that would
    make a constant series wobble at 1e-17 (and the axis zoom in on it).
    """
    values = np.asarray(values, dtype=np.float64)
    weight = min(max(float(weight), 0.0), 0.999)
    last, count, low, high = state
    out = values.copy()
    finite = np.isfinite(values)
    x = values[finite]
    if x.size == 0:
        return out, state
    low, high = min(low, float(x.min())), max(high, float(x.max()))
    if weight == 0.0:
        return out, (float(x[-1]), count + x.size, low, high)
    block = max(1, min(256, int(150 * math.log(10) / -math.log(weight))))
    smoothed = np.empty_like(x)
    for start in range(0, x.size, block):
        chunk = x[start : start + block]
        j = np.arange(chunk.size, dtype=np.float64)
        up = weight**-j
        down = weight**j
        raw = down * (weight * last + (1 - weight) * np.cumsum(chunk * up))
        smoothed[start : start + chunk.size] = raw
        last = float(raw[-1])
    n = count + np.arange(1, x.size + 1, dtype=np.float64)
    out[finite] = np.clip(smoothed / (1 - weight**n), low, high)
    return out, (last, count + x.size, low, high)
