"""tensors.py: read one tensor, diff two checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, KERAS, count_listings, trained_model_dir

from ckptgui.modeldir import tensors
from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.scan import CheckpointError, locate, require_index
from ckptgui.modeldir.tensors import diff, read_tensor
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


@pytest.mark.parametrize("scale", [1.0, 1e-30, 1e30])
def test_float64_sums_match_a_float64_reference(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    # Chunks of 3 rows of 8 and a padded tail: every path of the chunked sums; float32 inputs of any magnitude
    # (1e30 squared overflows float32, not float64).
    monkeypatch.setattr(tensors, "DIFF_CHUNK", 24)
    monkeypatch.setattr(tensors, "DOT_ROW", 8)
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((13, 9)) * scale).astype(np.float32)
    b = (a + rng.standard_normal(a.shape) * scale * 1e-3).astype(np.float32)
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    sum_a, sum_b, sum_d, peak, dot = tensors._Sums()(a, b)
    assert sum_a == pytest.approx(x @ x, rel=1e-14) and sum_b == pytest.approx(y @ y, rel=1e-14)
    assert sum_d == pytest.approx((y - x) @ (y - x), rel=1e-14) and dot == pytest.approx(x @ y, rel=1e-14)
    assert peak == np.abs(y - x).max()


def test_a_damaged_tensor_stops_the_diff_and_is_named(ours: Path, tmp_path: Path) -> None:
    for step in (100, 200):
        for path in ours.glob(f"model.ckpt-{step}.*"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    checkpoint = locate(tmp_path / "model.ckpt-200")
    info = {v.name: v for v in list_variables(checkpoint)}["dnn/hiddenlayer_1/kernel"]
    entry = require_index(checkpoint).entries[info.key]
    data = next(tmp_path.glob("model.ckpt-200.data-*"))
    damaged = bytearray(data.read_bytes())
    damaged[entry.offset + 3] ^= 0x40
    data.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match=r"dnn/hiddenlayer_1/kernel cannot be read \(checksum does not match"):
        diff(tmp_path / "model.ckpt-100", tmp_path / "model.ckpt-200")
    data.write_bytes(bytes(damaged[: entry.offset + 5]))
    with pytest.raises(CheckpointError, match=r"model\.ckpt-200\.data-00000-of-00001 is truncated"):
        diff(tmp_path / "model.ckpt-100", tmp_path / "model.ckpt-200")


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


# Without TensorFlow, by checkpoint key ---------------------------------------------------------------------


def test_every_tensor_read_without_tensorflow_equals_tensorflows(tmp_path: Path) -> None:
    """Every dtype TensorFlow saves, a partitioned variable put together from its slices, strings: equal to
    what TensorFlow's own reader returns."""
    import tensorflow as tf

    module = tf.Module()
    module.numbers = [
        tf.Variable(tf.cast(tf.reshape(tf.range(6), [3, 2]), dtype))
        for dtype in (tf.float16, tf.bfloat16, tf.float64, tf.int8, tf.uint16, tf.int64, tf.bool, tf.complex64)
    ]
    module.words = tf.Variable(["a", "bc", ""])
    prefix = tf.train.Checkpoint(model=module).write(str(tmp_path / "kinds"))
    tf.raw_ops.SaveV2(
        prefix=str(tmp_path / "part"),
        tensor_names=["big", "big", "big"],
        shape_and_slices=["400 3 0,200:-", "400 3 200,150:-", "400 3 350,50:-"],
        tensors=[tf.ones([200, 3]), tf.zeros([150, 3]), tf.fill([50, 3], 2.0)],
    )
    for path in (prefix, str(tmp_path / "part")):
        reader = tf.train.load_checkpoint(path)
        with tensors.TensorSource(locate(path)) as source:
            keys = reader.get_variable_to_shape_map()
            assert set(source.stored_keys()) == set(keys)
            for key in keys:
                theirs, ours = reader.get_tensor(key), source.get(key)
                if reader.get_variable_to_dtype_map()[key] == tf.bfloat16:
                    theirs = theirs.astype(np.float32)
                np.testing.assert_array_equal(ours, theirs, err_msg=key)


def test_diff_of_partitioned_variables_agrees_with_numpy(tmp_path: Path) -> None:
    import tensorflow as tf

    for name, fill in (("a", 1.0), ("b", 3.0)):
        tf.raw_ops.SaveV2(
            prefix=str(tmp_path / name),
            tensor_names=["big", "big"],
            shape_and_slices=["4 3 0,2:-", "4 3 2,2:-"],
            tensors=[tf.fill([2, 3], fill), tf.zeros([2, 3])],
        )
    (row,) = diff(tmp_path / "a", tmp_path / "b").variables
    assert row.delta_l2 == pytest.approx(np.sqrt(6 * 4.0))
    assert row.max_abs_delta == 2.0


def test_a_rebuilt_keras_model_pairs_by_checkpoint_key(tmp_path: Path) -> None:
    """Keras numbers auto-names per process: the second model is ``sequential_1/dense_2``; its checkpoint keys are
    the first one's, so every tensor is compared and the summary says so."""
    script = """
import sys, keras, numpy as np, tensorflow as tf
for run in range(2):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)) * run, epochs=1, verbose=0)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(f"{sys.argv[1]}/run{run}/ckpt-1")
"""
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, capture_output=True, timeout=300)
    report = diff(tmp_path / "run0" / "ckpt-1", tmp_path / "run1" / "ckpt-1", include_slots=True)
    assert not any(row.note.startswith("only in") for row in report.variables), [r.name for r in report.variables]
    total = len(report.variables)
    assert report.summary.startswith(f"{total} of {total} tensors compared"), report.summary


def test_verify_and_diff_never_import_tensorflow(ours: Path) -> None:
    probe = (
        "import sys\nfrom ckptgui.cli import main\n"
        f"assert main(['verify', {str(ours)!r}]) == 0\n"
        f"assert main(['diff', {str(ours)!r} + '@100', {str(ours)!r} + '@200', '--slots']) == 0\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]


def test_float8_and_int4_variables_are_healthy_and_named_not_compared(tmp_path: Path) -> None:
    """Newer dtypes are known to the entry check (not "unknown dtype"); diff says it leaves them to TensorFlow."""
    import ml_dtypes
    import tensorflow as tf
    from tensorflow.python.framework import dtypes

    from ckptgui.modeldir.verify import verify

    module = tf.Module()
    module.f8 = tf.Variable(tf.cast(tf.ones([3]), dtypes.float8_e4m3fn))
    module.i4 = tf.Variable(tf.constant(np.ones([5], ml_dtypes.int4)))
    module.w = tf.Variable(tf.ones([2]))
    prefix = tf.train.Checkpoint(model=module).write(str(tmp_path / "ckpt-1"))
    assert [c.status for c in verify(tmp_path)] == ["ok"]
    rows = {row.name: row for row in diff(prefix, prefix).variables}
    assert rows["model/f8"].note == "float8_e4m3fn tensors are not compared (only TensorFlow decodes them)"
    assert rows["model/w"].delta_l2 == 0
