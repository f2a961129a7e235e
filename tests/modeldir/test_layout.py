"""layout.py: names <-> steps."""

from __future__ import annotations

from ckptgui.modeldir.layout import step_of


def test_step_of_names() -> None:
    assert step_of("/x/model.ckpt-200") == 200
    assert step_of("ckpt-5") == 5
    assert step_of("model.ckpt") is None
    assert step_of("weights.05-0.32.weights.h5") == 5
    assert step_of("best.weights.h5") is None
