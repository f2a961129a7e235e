"""Names, slots and formats of the model_dirs in tests/fixtures/keras_cases/, against TensorFlow's readers and h5py.

Each case was written by the real tool (``tests/fixtures/make_keras_cases.py``): nested Functional towers with
same-named layers, a subclassed model, Keras weights files and ``.keras`` zips, a BackupAndRestore folder, TF1
Saver checkpoints (Adagrad slots, a wide & deep linear part, the V1 format).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf
from checkpoint_dirs import FIXTURES

from ckptgui.modeldir import compat
from ckptgui.modeldir.config import NetworkConfig
from ckptgui.modeldir.scan import locate, scan
from ckptgui.modeldir.tensors import diff, read_tensor
from ckptgui.modeldir.variables import (
    VALUE_SUFFIX,
    flat_variables,
    global_step,
    infer_network,
    list_variables,
)
from ckptgui.modeldir.verify import verify

CASES = FIXTURES / "keras_cases"
EXPECTED = json.loads((CASES / "expected.json").read_text())


def _flat(path: Path) -> dict[str, object]:
    return flat_variables(list_variables(locate(path)))


def _assert_every_key_once(path: Path, keys: set[str]) -> None:
    """Every stored tensor shows exactly once, under a name of its own: nothing dropped, nothing merged."""
    flat = _flat(path)
    assert sorted(v.key for v in flat.values()) == sorted(keys)
    assert len(set(flat)) == len(flat)


def test_towers_with_same_named_layers_get_unique_names_and_every_slot() -> None:
    prefix = CASES / "towers" / "ckpt-1"
    stored = {name for name, _ in tf.train.list_variables(str(prefix))} - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    _assert_every_key_once(prefix, stored)
    variables = {v.name: v for v in list_variables(locate(prefix))}
    towers = sorted(name for name in variables if name.endswith("proj/kernel"))
    assert len(towers) == 2 and towers[0] != towers[1]
    for name in towers:  # each kernel with its own Adam slots, and the same values TensorFlow reads
        kernel = variables[name]
        assert set(kernel.slots) == {"momentum", "velocity"}
        reader = tf.train.load_checkpoint(str(prefix))
        np.testing.assert_array_equal(read_tensor(locate(prefix), name), reader.get_tensor(kernel.key))
    slot_keys = {s.key for v in variables.values() for s in v.slots.values()}
    assert len(slot_keys) == 8 and not any(v.key in slot_keys for v in variables.values())
    assert set(variables) == {*towers, *(t.replace("kernel", "bias") for t in towers), "optimizer/iterations",
                              "optimizer/learning_rate"}  # fmt: skip


def test_towers_slots_follow_the_optimizer_lists_not_the_names() -> None:
    """Both towers' slots are called ``adam/proj_kernel_momentum``: only the list positions tell them apart."""
    prefix = CASES / "towers" / "ckpt-1"
    variables = list_variables(locate(prefix))
    by_key = {v.key: v for v in variables}
    for position, slots in ((0, (2, 3)), (2, (6, 7))):  # Adam builds momentum, velocity per variable in turn
        kernel = by_key[f"optimizer/_trainable_variables/{position}{VALUE_SUFFIX}"]
        assert kernel.slots["momentum"].key == f"optimizer/_variables/{slots[0]}{VALUE_SUFFIX}"
        assert kernel.slots["velocity"].key == f"optimizer/_variables/{slots[1]}{VALUE_SUFFIX}"


def test_subclassed_model_reads_as_its_attributes() -> None:
    prefix = CASES / "subclassed" / "ckpt-1"
    stored = {name for name, _ in tf.train.list_variables(str(prefix))} - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    _assert_every_key_once(prefix, stored)
    variables = {v.name: v for v in list_variables(locate(prefix))}
    assert set(variables) == {
        "net/d1/kernel",
        "net/d1/bias",
        "net/d2/kernel",
        "net/d2/bias",
        "opt/iterations",
        "opt/learning_rate",
    }
    assert variables["net/d1/kernel"].key == f"net/d1/_kernel{VALUE_SUFFIX}"
    for name in ("net/d1/kernel", "net/d1/bias", "net/d2/kernel", "net/d2/bias"):
        assert set(variables[name].slots) == {"momentum", "velocity"}
    assert global_step(locate(prefix)) == 2  # 16 rows, batch 8, one epoch: opt/iterations


@pytest.mark.parametrize(
    "file", ["towers/towers.weights.h5", "towers/towers.keras", "subclassed/subclassed.weights.h5"]
)
def test_keras_weights_files_name_every_array_once_and_hang_the_optimizer_under_them(file: str) -> None:
    path = CASES / file
    case = EXPECTED[file.split("/")[0]]
    _assert_every_key_once(path, {name for name, _ in case["h5"]})
    variables = {v.name: v for v in list_variables(locate(path))}
    layers = [v for v in variables.values() if not v.name.startswith("optimizer/")]
    assert len(layers) == 4 and all(set(v.slots) == {"momentum", "velocity"} for v in layers)
    assert {"optimizer/iterations", "optimizer/learning_rate"} <= set(variables)
    assert global_step(locate(path)) == 2


def test_h5_names_come_from_the_layers_and_values_from_their_paths() -> None:
    path = CASES / "towers" / "towers.weights.h5"
    variables = {v.name: v for v in list_variables(locate(path))}
    assert {"tower_a/proj/kernel", "tower_b/proj/kernel"} <= set(variables)
    with h5py.File(path, "r") as handle:
        for name in ("tower_a/proj/kernel", "tower_b/proj/kernel"):
            np.testing.assert_array_equal(read_tensor(locate(path), name), handle[variables[name].key][()])
        # Adam's positional arrays: 2 + 2 * i is the momentum of the i-th layer array.
        kernel_b = variables["tower_b/proj/kernel"]
        assert kernel_b.slots["momentum"].key == "optimizer/vars/6"
        np.testing.assert_array_equal(
            read_tensor(locate(path), "tower_b/proj/kernel/velocity"), handle["optimizer/vars/7"][()]
        )
    subclassed = {v.name for v in list_variables(locate(CASES / "subclassed" / "subclassed.weights.h5"))}
    assert {"d1/kernel", "d2/kernel"} <= subclassed


def test_a_keras_zip_is_listed_and_verified_as_a_checkpoint() -> None:
    info = scan(CASES / "towers")
    names = {Path(c.prefix).name: c for c in info.checkpoints}
    assert names["towers.keras"].status == "ok" and names["towers.keras"].format == "keras-h5"
    assert {c.status for c in verify(CASES / "towers" / "towers.keras")} == {"ok"}


def test_a_damaged_keras_zip_is_corrupt_not_empty(tmp_path: Path) -> None:
    copy = tmp_path / "model.keras"
    data = (CASES / "towers" / "towers.keras").read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    (checkpoint,) = scan(tmp_path).checkpoints
    assert checkpoint.status == "corrupt" and "Keras model file" in checkpoint.reason


def test_backup_and_restore_folder_shows_its_epoch() -> None:
    backup = EXPECTED["backup"]
    info = scan(CASES / "backup")
    (checkpoint,) = info.checkpoints
    assert Path(checkpoint.prefix).name == "latest.weights.h5"
    assert checkpoint.step == backup["metadata"]["epoch"] == 2
    assert info.restore_step == 2
    assert global_step(checkpoint) == 4  # 2 epochs of 2 batches


def test_tf1_adagrad_slots_name_the_optimizer() -> None:
    variables = list_variables(locate(CASES / "tf1_adagrad"))
    stored = {name for name, _ in EXPECTED["tf1_adagrad"]["list_variables"]}
    assert {v.key for v in flat_variables(variables).values()} == stored
    kernel = next(v for v in variables if v.name == "dnn/logits/kernel")
    assert kernel.slots["accumulator"].key == "dnn/logits/kernel/Adagrad"
    network = infer_network(variables)
    assert network.optimizer == "Adagrad" and network.unexplained == []
    report = compat.check(NetworkConfig(hidden_units=[5], optimizer="Adagrad"), 4, 3, CASES / "tf1_adagrad")
    assert report.compatible and not any("start from zero" in note for note in report.notes)


def test_dir_at_step_and_the_prefix_agree() -> None:
    at_step, prefix = scan(f"{CASES / 'tf1_adagrad'}@300"), scan(CASES / "tf1_adagrad" / "model.ckpt-300")
    assert [c.step for c in at_step.checkpoints] == [c.step for c in prefix.checkpoints] == [300]
    assert at_step.restore_step == prefix.restore_step == 300


def test_wide_and_deep_weights_are_unexpected_for_a_dnn() -> None:
    network = infer_network(list_variables(locate(CASES / "wide_deep")))
    linear = ["linear/linear_model/bias_weights", "linear/linear_model/features/weights"]
    assert network.hidden_units == [5] and sorted(network.unexplained) == linear
    report = compat.check(NetworkConfig(hidden_units=[5]), 4, 3, CASES / "wide_deep")
    assert not report.compatible
    assert sorted(m.variable for m in report.mismatches if m.kind == "unexpected") == linear
    assert "outside the DNN" in report.summary
    assert not any("own network" in remedy for remedy in report.remedies)  # the same network would not fit either


def test_v1_checkpoints_are_named_not_missing() -> None:
    info = scan(CASES / "v1")
    assert info.format == "tf1-v1"
    assert [(c.step, c.status, c.listed) for c in info.checkpoints] == [
        (1, "unsupported", True),
        (2, "unsupported", True),
    ]
    assert all("V1" in c.reason and c.files == [Path(c.prefix).name] for c in info.checkpoints)
    assert not any(c.status == "missing" for c in verify(CASES / "v1"))


def test_a_v1_name_that_is_not_a_table_is_corrupt(tmp_path: Path) -> None:
    shutil.copytree(CASES / "v1", tmp_path / "v1")
    (tmp_path / "v1" / "model.ckpt-2").write_bytes(b"not a table" * 10)
    statuses = {c.step: c.status for c in scan(tmp_path / "v1").checkpoints}
    assert statuses == {1: "unsupported", 2: "corrupt"}


@pytest.mark.parametrize(
    "written_on",
    [r"C:\\Users\\me\\run\\{}", "C:/Users/me/run/{}", "/home/other/run/{}"],
    ids=["windows", "slashes", "posix"],
)
def test_a_state_file_from_another_machine_is_matched_by_file_name(tmp_path: Path, written_on: str) -> None:
    folder = tmp_path / "run"
    shutil.copytree(CASES / "tf1_adagrad", folder)
    names = ["model.ckpt-300", "model.ckpt-500"]
    lines = [f'model_checkpoint_path: "{written_on.format(names[-1])}"']
    lines += [f'all_model_checkpoint_paths: "{written_on.format(name)}"' for name in names]
    (folder / "checkpoint").write_text("\n".join(lines) + "\n")
    info = scan(folder)
    assert [(c.step, c.status, c.listed) for c in info.checkpoints] == [(300, "ok", True), (500, "ok", True)]
    assert info.latest_step == 500
    assert any("matched here by file name" in p for p in info.problems)
    assert {c.status for c in verify(folder)} == {"ok"}


@pytest.mark.parametrize("include_slots", [False, True])
def test_weights_of_a_rebuilt_model_pair_by_hdf5_path(include_slots: bool) -> None:
    """A notebook rerun names the second model dense_4, dense_5: the files' paths stay and pair every array."""
    first, second = CASES / "rebuilt" / "first.weights.h5", CASES / "rebuilt" / "second.weights.h5"
    assert {v.name for v in list_variables(locate(first))} != {v.name for v in list_variables(locate(second))}
    report = diff(first, second, include_slots=include_slots)
    every = len(EXPECTED["rebuilt"]["first"]["h5"])  # 4 layer arrays, 2 counters, 8 Adam slots
    assert len(report.variables) == (every if include_slots else 6)
    assert all(row.in_a and row.in_b for row in report.variables)
    assert report.summary.startswith(f"{len(report.variables)} of {len(report.variables)} tensors compared")
    with h5py.File(first, "r") as a, h5py.File(second, "r") as b:
        row = next(r for r in report.variables if r.name.endswith("/kernel") and r.shape_a == [4, 5])
        delta = b["layers/dense/vars/0"][()] - a["layers/dense/vars/0"][()]
        assert row.delta_l2 == pytest.approx(float(np.linalg.norm(delta)), rel=1e-6)


def test_an_exported_keras_model_beside_a_run_is_not_a_nested_checkpoint_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(CASES / "tf1_adagrad", run)
    (run / "export").mkdir()
    shutil.copy(CASES / "towers" / "towers.keras", run / "export" / "1.keras")
    assert not any("subfolder" in problem for problem in scan(run).problems)
    assert [c.status for c in scan(run / "export").checkpoints] == ["ok"]
