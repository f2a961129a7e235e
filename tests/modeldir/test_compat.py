"""compat.py: network config vs checkpoint, and checkpoint vs checkpoint, on real checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from ckptgui.engine.training import Trainer
from ckptgui.modeldir import compat
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.scan import CheckpointError, locate
from ckptgui.modeldir.variables import list_variables

FIXTURES = Path(__file__).parents[1] / "fixtures"
ESTIMATOR = FIXTURES / "estimator_dnn_iris"
ESTIMATOR_20 = FIXTURES / "estimator_dnn_iris_20x20"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our engine's model_dir: Iris, [10, 10], relu, Adagrad, checkpoints at 0 and 50."""
    model_dir = tmp_path_factory.mktemp("compat") / "model"
    spec = RunSpec(
        network=NetworkConfig(steps=50), schedule=ScheduleConfig(save_checkpoints_steps=50), model_dir=str(model_dir)
    )
    Trainer(spec).run()
    return model_dir


def kinds(report: compat.CompatReport) -> dict[str, tuple[str, list[int] | None, list[int] | None]]:
    return {m.variable: (m.kind, m.expected, m.found) for m in report.mismatches}


def test_the_same_network_fits(ours: Path) -> None:
    report = compat.check(NetworkConfig(), 4, 3, ours)
    assert report.compatible
    assert report.mismatches == [] and report.remedies == [] and report.notes == []
    assert report.summary == "checkpoint fits this config: hidden_units [10, 10], 4 features, 3 classes"
    assert report.prefix == str(ours / "model.ckpt-50")
    assert report.checkpoint_network.hidden_units == [10, 10]
    assert set(report.fitting) == set(NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3))


def test_wider_layers_are_refused_with_both_shapes(ours: Path) -> None:
    report = compat.check(NetworkConfig(hidden_units=[20, 20]), 4, 3, ours)
    assert not report.compatible
    assert report.summary == "checkpoint was trained with hidden_units [10, 10]; this config has [20, 20]"
    assert kinds(report) == {
        "dnn/hiddenlayer_0/kernel": ("shape", [4, 20], [4, 10]),
        "dnn/hiddenlayer_0/bias": ("shape", [20], [10]),
        "dnn/hiddenlayer_1/kernel": ("shape", [20, 20], [10, 10]),
        "dnn/hiddenlayer_1/bias": ("shape", [20], [10]),
        "dnn/logits/kernel": ("shape", [20, 3], [10, 3]),
    }
    lines = report.message().splitlines()
    assert lines[0] == report.summary
    assert "  dnn/hiddenlayer_0/kernel: checkpoint [4, 10], config [4, 20]" in lines
    assert len(lines) == 1 + len(report.mismatches)
    assert report.remedies[0].startswith("train into a new model_dir (--model-dir NEW_DIR)")
    assert "continue with the checkpoint's own network: --hidden-units 10,10" in report.remedies
    assert not any("warm-start" in r for r in report.remedies), "only a bias fits: nothing worth warm-starting"


def test_extra_and_missing_layers(ours: Path) -> None:
    deeper = compat.check(NetworkConfig(hidden_units=[10, 10, 10]), 4, 3, ours)
    assert kinds(deeper) == {
        "dnn/hiddenlayer_2/kernel": ("missing", [10, 10], None),
        "dnn/hiddenlayer_2/bias": ("missing", [10], None),
    }
    assert "  dnn/hiddenlayer_2/kernel: not in the checkpoint; config [10, 10]" in deeper.message().splitlines()
    assert any("--warm-start-from" in r and "6 of 8 variables fit" in r for r in deeper.remedies)
    shallower = compat.check(NetworkConfig(hidden_units=[10]), 4, 3, ours)
    assert kinds(shallower) == {
        "dnn/hiddenlayer_1/kernel": ("unexpected", None, [10, 10]),
        "dnn/hiddenlayer_1/bias": ("unexpected", None, [10]),
    }
    assert "  dnn/hiddenlayer_1/kernel: checkpoint [10, 10], not in the config" in shallower.message().splitlines()


def test_features_and_classes_are_named_in_the_summary(ours: Path) -> None:
    report = compat.check(NetworkConfig(), 5, 2, ours)
    assert (
        report.summary
        == "checkpoint takes 4 input features; the data has 5; checkpoint has 3 classes; this config has 2"
    )
    assert kinds(report)["dnn/hiddenlayer_0/kernel"] == ("shape", [5, 10], [4, 10])
    assert (
        "continue with the checkpoint's own network: --hidden-units 10,10, on data with 4 features" in report.remedies
    )


def test_optimizer_and_activation_changes_are_notes_not_errors(ours: Path) -> None:
    report = compat.check(NetworkConfig(optimizer="Adam", activation="tanh"), 4, 3, ours)
    assert report.compatible
    assert report.notes == [
        "the checkpoint holds Adagrad optimizer state; this config uses Adam: its slots (m, v) start from zero",
        "the checkpoint was trained with activation relu; this config uses tanh (the shapes fit, the learned "
        "weights will mean something else)",
    ]
    assert report.message().splitlines()[1].startswith("  note: the checkpoint holds Adagrad")


def test_estimator_checkpoints_are_judged_by_the_same_names() -> None:
    assert compat.check(NetworkConfig(), 4, 3, ESTIMATOR).compatible
    report = compat.check(NetworkConfig(), 4, 3, ESTIMATOR_20)
    assert report.summary == "checkpoint was trained with hidden_units [20, 20]; this config has [10, 10]"
    # The fixture's own record: Estimator 2.15 ignored this very mismatch and trained on.
    mismatch = json.loads((FIXTURES / "estimator_mismatch.json").read_text())
    assert mismatch["train"]["raised"] is False
    assert compat.check(NetworkConfig(hidden_units=[20, 20]), 4, 3, ESTIMATOR).compatible is False


def test_a_foreign_checkpoint_holds_no_dnn() -> None:
    report = compat.check(NetworkConfig(), 4, 3, FIXTURES / "tf2_manager")
    assert not report.compatible
    assert report.summary.startswith("the checkpoint holds no DNN classifier")
    assert {m.kind for m in report.mismatches} == {"missing"}
    assert report.checkpoint_network is None


def test_dtype_differences_are_reported(tmp_path: Path) -> None:
    dnn = tf.Module()
    for name, shape in NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3).items():
        layer, part = name.split("/")[1:]
        if not hasattr(dnn, layer):
            setattr(dnn, layer, tf.Module())
        setattr(getattr(dnn, layer), part, tf.Variable(tf.zeros(shape, tf.float64)))
    prefix = tf.train.Checkpoint(dnn=dnn).write(str(tmp_path / "model.ckpt-1"))
    report = compat.check(NetworkConfig(), 4, 3, prefix)
    assert not report.compatible
    assert {m.kind for m in report.mismatches} == {"dtype"}
    assert report.mismatches[0].detail == "stored as float64; the network uses float32"
    assert report.summary == "6 variables are not stored as float32 (stored as float64; the network uses float32)"


def test_an_unreadable_checkpoint_raises(ours: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(ours, copy)
    (copy / "model.ckpt-50.index").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"corrupt: the \.index file is empty"):
        compat.check(NetworkConfig(), 4, 3, copy / "model.ckpt-50")


def test_compare_two_checkpoints() -> None:
    same = compat.compare(f"{ESTIMATOR}@0", f"{ESTIMATOR}@200")
    assert same.compatible
    count = len(list_variables(locate(ESTIMATOR)))
    assert same.summary == f"A and B hold the same {count} variables with the same shapes"
    different = compat.compare(ESTIMATOR, ESTIMATOR_20)
    assert not different.compatible
    assert different.summary == "A has hidden_units [10, 10]; B has [20, 20]"
    assert "  dnn/hiddenlayer_0/kernel: A [4, 10], B [4, 20]" in different.message().splitlines()
    assert kinds(different)["dnn/logits/kernel"] == ("shape", [10, 3], [20, 3])


def test_compare_across_formats_counts_missing_and_unexpected() -> None:
    report = compat.compare(ESTIMATOR, FIXTURES / "tf2_manager")
    found = {m.kind for m in report.mismatches}
    assert found == {"missing", "unexpected"}
    assert "  global_step: not in B; A []" in report.message().splitlines()
