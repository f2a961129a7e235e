"""TensorBoard's smoothing, checked against its own loop, without a window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ckptgui.workspace.smoothing import ema


def tensorboard_smoothing(values: list[float], weight: float) -> list[float]:
    """TensorBoard's scalar smoothing, transcribed loop for loop from its frontend (the reference)."""
    last, num_accum, out = 0.0, 0, []
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        num_accum += 1
        debias = 1.0 if weight == 1 else 1 - weight**num_accum
        out.append(last / debias)
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99])
def test_ema_matches_tensorboard(weight: float):
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=3000)) + 50
    values[[10, 500, 2999]] = [np.nan, np.inf, np.nan]
    smoothed, _ = ema(values, weight)
    np.testing.assert_allclose(smoothed, tensorboard_smoothing(list(values), weight), rtol=1e-9, atol=1e-9)


def test_ema_continues_where_it_stopped():
    values = np.linspace(3, 1, 1001) ** 2
    whole, _ = ema(values, 0.8)
    head, state = ema(values[:377], 0.8)
    tail, _ = ema(values[377:], 0.8, state)
    np.testing.assert_allclose(np.concatenate([head, tail]), whole, rtol=1e-12)


def test_ema_of_a_constant_is_the_constant():
    smoothed, _ = ema(np.full(500, 0.05000000074505806), 0.6)
    assert np.all(smoothed == 0.05000000074505806)
