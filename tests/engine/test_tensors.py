"""tensors.py: read one tensor, diff two checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, KERAS, count_listings, trained_model_dir

from ckptgui.engine import tensors
from ckptgui.engine.tensors import diff, read_tensor
from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.scan import CheckpointError, locate
from ckptgui.modeldir.variables import list_variables


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


def test_unknown_variable_names_the_close_ones(ours: Path) -> None:
    with pytest.raises(CheckpointError, match="no variable 'dnn/kernel'; similar: dnn/hiddenlayer_0/kernel"):
        read_tensor(locate(ours), "dnn/kernel")


# Diff ---------------------------------------------------------------------------------------------------


def test_diff_lists_each_side_once(ours: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = count_listings(monkeypatch)
    diff(f"{ours}@100", f"{ours}@200")
    assert listed.count(str(ours)) == 2


def test_diff_matches_numpy_on_every_variable(ours: Path) -> None:
    report = diff(f"{ours}@100", f"{ours}@200")
    assert report.a.endswith("model.ckpt-100") and report.b.endswith("model.ckpt-200")
    rows = {row.name: row for row in report.variables}
    assert set(rows) == {v.name for v in list_variables(locate(ours))}
    for name in NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3):
        a = read_tensor(locate(ours / "model.ckpt-100"), name).astype(np.float64)
        b = read_tensor(locate(ours / "model.ckpt-200"), name).astype(np.float64)
        row = rows[name]
        assert row.shape_a == row.shape_b == list(a.shape)
        assert row.delta_l2 == pytest.approx(np.linalg.norm(b - a), rel=1e-9)
        assert row.max_abs_delta == pytest.approx(np.abs(b - a).max(), rel=1e-9)
        assert row.norm_a == pytest.approx(np.linalg.norm(a), rel=1e-9)
        assert row.relative_change == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=1e-9)
        assert row.cosine == pytest.approx(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b), rel=1e-9)
    assert rows["global_step"].delta_l2 == 100
    assert report.layers[0].relative_change == max(layer.relative_change or 0 for layer in report.layers)
    assert f"moved most: {report.layers[0].name}" in report.summary
    assert report.bytes_read > 0


def test_diff_streams_in_chunks_with_the_same_result(ours: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = {r.name: r for r in diff(ours / "model.ckpt-0", ours / "model.ckpt-200").variables}
    monkeypatch.setattr(tensors, "DIFF_CHUNK", 7)
    chunked = {r.name: r for r in diff(ours / "model.ckpt-0", ours / "model.ckpt-200").variables}
    for name, row in whole.items():
        for field in ("delta_l2", "max_abs_delta", "norm_a", "norm_b", "cosine"):
            expected = getattr(row, field)
            assert getattr(chunked[name], field) == (expected and pytest.approx(expected, rel=1e-12)), (name, field)


def test_diff_of_a_checkpoint_with_itself_is_zero(ours: Path) -> None:
    report = diff(ours, ours)
    assert all(row.delta_l2 == 0 and row.max_abs_delta == 0 for row in report.variables)
    assert report.summary.endswith("all compared values are identical")


def test_diff_of_different_networks_names_the_shape_changes() -> None:
    report = diff(ESTIMATOR, ESTIMATOR_20, include_slots=True)
    rows = {row.name: row for row in report.variables}
    kernel = rows["dnn/hiddenlayer_0/kernel"]
    assert (kernel.shape_a, kernel.shape_b, kernel.delta_l2) == ([4, 10], [4, 20], None)
    assert kernel.note == "shapes differ: [4, 10] vs [4, 20]"
    assert rows["dnn/hiddenlayer_0/kernel/accumulator"].shape_b == [4, 20]
    assert rows["dnn/logits/bias"].delta_l2 is not None
    assert "with different shapes" in report.summary


def test_diff_across_formats_matches_by_readable_name() -> None:
    report = diff(KERAS / "weights.02.weights.h5", KERAS / "weights.03.weights.h5")
    rows = {row.name: row for row in report.variables}
    assert rows["dense/kernel"].delta_l2 > 0
    assert rows["dense/kernel"].shape_a == [4, 10]
