"""variables.py against real checkpoints: ours (Trainer), TF 2.15 Estimator, a TF2 CheckpointManager script, Keras."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, KERAS, MANAGER, trained_model_dir

from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.scan import locate, scan
from ckptgui.modeldir.tensors import read_tensor
from ckptgui.modeldir.variables import (
    SLOT_MARK,
    VALUE_SUFFIX,
    InferredNetwork,
    flat_variables,
    global_step,
    infer_network,
    list_variables,
)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


def test_our_variables_read_as_the_network(ours: Path) -> None:
    variables = list_variables(locate(ours / "model.ckpt-200"))
    names = [v.name for v in variables]
    network = NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3)
    assert set(names) == {*network, "global_step", "optimizer/iterations", "optimizer/learning_rate"}
    assert (
        names.index("dnn/hiddenlayer_0/bias") < names.index("dnn/hiddenlayer_1/bias") < names.index("dnn/logits/bias")
    )
    for v in variables:
        assert v.key == f"{v.name}{VALUE_SUFFIX}"
        if v.name in network:
            assert v.shape == network[v.name]
            assert (v.dtype, v.size, v.nbytes) == ("float32", int(np.prod(v.shape)), 4 * int(np.prod(v.shape)))
            assert list(v.slots) == ["accumulator"]
            assert v.slots["accumulator"].shape == v.shape
            assert SLOT_MARK in v.slots["accumulator"].key
        else:
            assert v.slots == {}
    assert infer_network(variables) == InferredNetwork([10, 10], 4, 3, False, ["accumulator"])
    assert infer_network(variables).optimizer == "Adagrad"


def test_global_step_is_read_without_tensorflow_and_matches_it(ours: Path) -> None:
    for step in (0, 100, 200):
        prefix = ours / f"model.ckpt-{step}"
        assert global_step(locate(prefix)) == step
        assert int(tf.train.load_checkpoint(str(prefix)).get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE")) == step
    assert global_step(locate(ESTIMATOR / "model.ckpt-100")) == 100
    steps = json.loads((MANAGER / "expected.json").read_text())["step_value_by_checkpoint"]
    for name, value in steps.items():
        assert global_step(locate(MANAGER / name)) == value
    keras = json.loads((KERAS / "expected.json").read_text())
    assert global_step(locate(KERAS / "tf_checkpoint" / "ckpt-1")) == keras["epochs"] * keras["steps_per_epoch"]


def test_listing_does_not_import_tensorflow(ours: Path) -> None:
    code = (
        "import sys; from ckptgui.modeldir import scan as s, variables as c; "
        f"p = {str(ours)!r}; info = s.scan(p); v = c.list_variables(s.locate(p)); "
        f"n = c.global_step(s.locate(p)); s.scan({str(KERAS)!r}); "
        f"c.list_variables(s.locate({str(KERAS / 'tf_checkpoint')!r})); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; print(len(v), n)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(list_variables(locate(ours)))), "200"]


def test_estimator_checkpoint_shows_slots_under_their_variable() -> None:
    info = scan(ESTIMATOR)
    assert info.format == "tf1-name"
    assert [c.step for c in info.checkpoints] == [0, 100, 200]
    assert all(c.status == "ok" and c.listed for c in info.checkpoints)
    assert any(f.endswith(".meta") for f in info.checkpoints[0].files)
    assert (info.latest_step, info.restore_step, info.event_runs) == (200, 200, [".", "eval"])
    variables = {v.name: v for v in list_variables(locate(ESTIMATOR / "model.ckpt-200"))}
    kernel = variables["dnn/hiddenlayer_0/kernel"]
    assert kernel.key == "dnn/hiddenlayer_0/kernel"
    assert kernel.slots["accumulator"].key == "training/Adagrad/dnn/hiddenlayer_0/kernel/accumulator"
    assert not any(name.endswith("/accumulator") for name in variables)
    stored = json.loads((ESTIMATOR / "expected.json").read_text())["variables_latest"]
    assert {v["name"] for v in stored} == {v.key for v in flat_variables(list(variables.values())).values()}
    assert infer_network(list(variables.values())).hidden_units == [10, 10]
    wide = infer_network(list_variables(locate(ESTIMATOR_20)))
    assert (wide.hidden_units, wide.n_features, wide.n_classes) == ([20, 20], 4, 3)


def test_manager_model_dir_numbers_by_save_counter() -> None:
    expected = json.loads((MANAGER / "expected.json").read_text())
    info = scan(MANAGER)
    assert [Path(c.prefix).name for c in info.checkpoints] == expected["kept_checkpoints"]
    assert info.latest_step == 5
    assert infer_network(list_variables(locate(MANAGER))) is None
    variables = {v.name: v for v in list_variables(locate(MANAGER))}
    assert variables["model/w1"].shape == [4, 16]
    assert set(variables["model/w1"].slots) == {"momentum", "velocity"}


def test_keras3_checkpoint_keys_get_layer_names_from_the_object_graph() -> None:
    prefix = KERAS / "tf_checkpoint" / "ckpt-1"
    variables = {v.name: v for v in list_variables(locate(prefix))}
    kernel = variables["sequential/dense/kernel"]
    assert kernel.key.startswith("optimizer/_trainable_variables/")
    assert set(kernel.slots) == {"momentum", "velocity"}
    assert not any(name.startswith("optimizer/_") for name in variables)
    # The same weights as the last epoch's weights file, found by readable name on both sides.
    last = KERAS / "weights.03.weights.h5"
    for layer in ("dense", "dense_1", "dense_2"):
        for part in ("kernel", "bias"):
            np.testing.assert_array_equal(
                read_tensor(locate(prefix), f"sequential/{layer}/{part}"),
                read_tensor(locate(last), f"{layer}/{part}"),
            )


def test_keras_weights_files_are_one_checkpoint_each() -> None:
    expected = json.loads((KERAS / "expected.json").read_text())
    info = scan(KERAS)
    assert info.format == "keras-h5"
    assert [Path(c.prefix).name for c in info.checkpoints] == expected["weights_files"]
    assert [c.step for c in info.checkpoints] == [1, 2, 3]
    assert {c.status for c in info.checkpoints} == {"ok"}
    assert info.restore_step == 3
    assert info.event_runs == ["logs/train", "logs/validation"]
    assert any("tf_checkpoint" in p for p in info.problems)
    names = {v.name: v.shape for v in list_variables(locate(KERAS / "weights.01.weights.h5"))}
    assert (names["dense/kernel"], names["dense/bias"], names["dense_2/kernel"]) == ([4, 10], [10], [10, 3])
