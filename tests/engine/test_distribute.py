"""Training under tf.distribute: MirroredStrategy over two logical CPU devices behaves as one device.

The copies of every mirrored variable stay equal, the loss is the single-device loss on the same batches, and
the model_dir is the one a single-device run writes (keys, shapes, files, schedule, retention), so either kind
of run resumes the other.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ckptgui.engine.distribute import SINGLE_DEVICE, distribution_for
from ckptgui.engine.loop import CompiledLoop
from ckptgui.engine.model import Classifier
from ckptgui.engine.restore import load_weights
from ckptgui.engine.training import Finished, Started, Trainer
from ckptgui.formats.statefile import read_state
from ckptgui.modeldir.config import ConfigError, DataConfig, NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.data import load_dataset
from ckptgui.modeldir.records import read_run_log, read_written
from ckptgui.modeldir.scan import locate

# At import, before any test runs TensorFlow: CPU devices can only be split before the runtime starts.
MIRRORED = distribution_for("mirrored", ["CPU:0", "CPU:1"])


def spec_for(model_dir, distribution="default", devices=(), steps=200, **schedule) -> RunSpec:
    schedule.setdefault("save_checkpoints_steps", 100)
    return RunSpec(
        network=NetworkConfig(hidden_units=[10, 10], steps=steps, batch_size=20),
        schedule=ScheduleConfig(**schedule),
        model_dir=str(model_dir),
        seed=7,
        distribution=distribution,
        devices=list(devices),
    )


def mirrored_spec(model_dir, **kwargs) -> RunSpec:
    return spec_for(model_dir, "mirrored", ["CPU:0", "CPU:1"], **kwargs)


def copies(variable: tf.Variable) -> list[np.ndarray]:
    return [value.numpy() for value in MIRRORED.strategy.experimental_local_results(variable)]


def all_variables(classifier: Classifier) -> dict[str, tf.Variable]:
    named = dict(classifier.dnn.named_variables())
    for name, variable in list(named.items()):
        for slot in classifier.optimizer.get_slot_names():
            named[f"{name}/{slot}"] = classifier.optimizer.get_slot(variable, slot)
    named["global_step"] = classifier.global_step
    named["optimizer/iterations"] = classifier.optimizer.iterations
    return named


def stored(prefix) -> dict[str, list[int]]:
    return dict(tf.train.list_variables(str(prefix)))


def model_dir_files(model_dir) -> list[str]:
    """Every file, the event files' names cut to their kind (they carry the time and the pid)."""
    return sorted(str(p.relative_to(model_dir)).split(".out.tfevents")[0] for p in model_dir.rglob("*") if p.is_file())


def test_the_strategy_mirrors_over_two_logical_cpu_devices():
    assert MIRRORED.replicas == 2 and MIRRORED.devices == ("CPU:0", "CPU:1")
    assert not MIRRORED.jit_allowed  # XLA cannot reach a resource on CPU:1 from CPU:0
    assert distribution_for("mirrored", ["CPU:0", "CPU:1"]) is MIRRORED  # made once per process


def test_replicas_stay_in_sync_and_the_loss_is_the_single_device_loss():
    """Today's step run unchanged under the strategy let the copies drift (max |delta| 0.22): this is its guard."""
    dataset = load_dataset(DataConfig())
    network = NetworkConfig(hidden_units=[10, 10], optimizer="Adam")
    with MIRRORED.scope():
        mirrored = Classifier(network, dataset.n_features, dataset.n_classes, seed=3)
    single = Classifier(network, dataset.n_features, dataset.n_classes, seed=3)
    mirrored_loop = CompiledLoop(mirrored, dataset, batch_size=40, seed=5, distribution=MIRRORED)
    single_loop = CompiledLoop(single, dataset, batch_size=40, seed=5, distribution=SINGLE_DEVICE)
    for steps in (1, 17, 50):
        mirrored_loss, mirrored_accuracy, _ = mirrored_loop.run(steps, with_eval=False)
        single_loss, single_accuracy, _ = single_loop.run(steps, with_eval=False)
        assert mirrored_loss == pytest.approx(single_loss, rel=1e-4)
        assert mirrored_accuracy == pytest.approx(single_accuracy)
    for name, variable in all_variables(mirrored).items():
        first, second = copies(variable)
        assert np.abs(first - second).max() == 0, name
        np.testing.assert_allclose(first, all_variables(single)[name].numpy(), rtol=1e-3, atol=1e-5, err_msg=name)
    assert int(mirrored.global_step.numpy()) == 68


def test_a_mirrored_run_writes_the_model_dir_of_a_single_device_run(tmp_path):
    single_dir, mirrored_dir = tmp_path / "single", tmp_path / "mirrored"
    Trainer(spec_for(single_dir)).run()
    Trainer(mirrored_spec(mirrored_dir)).run()
    assert model_dir_files(mirrored_dir) == model_dir_files(single_dir)
    for step in (0, 100, 200):
        assert stored(mirrored_dir / f"model.ckpt-{step}") == stored(single_dir / f"model.ckpt-{step}")
    assert len(stored(mirrored_dir / "model.ckpt-200")) == 16
    history = read_run_log(mirrored_dir).history
    assert history[-1]["distribution"] == {"name": "mirrored", "devices": ["CPU:0", "CPU:1"], "replicas": 2}
    assert read_run_log(mirrored_dir).spec.distribution == "mirrored"
    assert read_run_log(single_dir).history[-1]["distribution"] == {"name": "default", "devices": [], "replicas": 1}
    single, mirrored = (tf.train.load_checkpoint(str(d / "model.ckpt-200")) for d in (single_dir, mirrored_dir))
    for key in stored(single_dir / "model.ckpt-200"):
        if key.startswith("dnn/") and "OPTIMIZER_SLOT" not in key:  # the weights: equal to float rounding
            np.testing.assert_allclose(mirrored.get_tensor(key), single.get_tensor(key), rtol=0, atol=5e-6)


def test_schedule_and_retention_are_those_of_a_single_device_run(tmp_path):
    schedule = {"save_checkpoints_steps": 50, "keep_checkpoint_max": 3, "save_summary_steps": 25}
    Trainer(spec_for(tmp_path / "single", steps=300, **schedule)).run()
    Trainer(mirrored_spec(tmp_path / "mirrored", steps=300, **schedule)).run()
    for name in ("single", "mirrored"):
        model_dir = tmp_path / name
        assert sorted(int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("*.index")) == [200, 250, 300]
        assert read_written(model_dir)[0] == {0, 50, 100, 150, 200, 250, 300}
    listed = [read_state(tmp_path / name).all_model_checkpoint_paths for name in ("single", "mirrored")]
    assert listed[0] == listed[1] == ["model.ckpt-200", "model.ckpt-250", "model.ckpt-300"]


@pytest.mark.parametrize(("first", "then"), [("mirrored", "default"), ("default", "mirrored")])
def test_each_resumes_the_other(tmp_path, first, then):
    runs = {"default": spec_for, "mirrored": mirrored_spec}
    Trainer(runs[first](tmp_path, steps=100)).run()
    events = []
    assert Trainer(runs[then](tmp_path, steps=100)).run(events.append) == Finished(200, stopped=False)
    started = next(e for e in events if isinstance(e, Started))
    assert (started.start_step, started.resumed_from) == (100, str(tmp_path / "model.ckpt-100"))
    names = [entry["distribution"]["name"] for entry in read_run_log(tmp_path).history]
    assert names == [first, then]
    assert stored(tmp_path / "model.ckpt-200") == stored(tmp_path / "model.ckpt-100")


def test_a_restore_fills_every_replica_bit_equal_both_ways(tmp_path):
    """plain -> strategy (every copy gets the stored value) and strategy -> plain (what a copy holds is saved)."""
    dataset = load_dataset(DataConfig())
    Trainer(spec_for(tmp_path / "plain", steps=30)).run()
    plain = locate(str(tmp_path / "plain" / "model.ckpt-30"))
    with MIRRORED.scope():
        mirrored = Classifier(NetworkConfig(hidden_units=[10, 10]), dataset.n_features, dataset.n_classes, seed=1)
    load_weights(mirrored, plain, None, strict=True, training_state=True)
    for name, variable in all_variables(mirrored).items():
        if name == "optimizer/iterations":
            continue  # load_weights restores no optimizer counter, on any path
        for value in copies(variable):
            assert np.array_equal(value, _stored_value(plain.prefix, name)), name
    loop = CompiledLoop(mirrored, dataset, batch_size=20, seed=1, distribution=MIRRORED)
    (tmp_path / "back").mkdir()
    loop.save(str(tmp_path / "back" / "model.ckpt-30"))
    back = tf.train.load_checkpoint(str(tmp_path / "back" / "model.ckpt-30"))
    original = tf.train.load_checkpoint(plain.prefix)
    for key in stored(plain.prefix):
        if key not in ("_CHECKPOINTABLE_OBJECT_GRAPH", "optimizer/iterations/.ATTRIBUTES/VARIABLE_VALUE"):
            assert np.array_equal(back.get_tensor(key), original.get_tensor(key)), key


def _stored_value(prefix: str, name: str) -> np.ndarray:
    if name == "global_step":
        key = "global_step/.ATTRIBUTES/VARIABLE_VALUE"
    elif name.rsplit("/", 1)[-1] in ("kernel", "bias"):
        key = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
    else:
        variable, slot = name.rsplit("/", 1)
        key = f"{variable}/.OPTIMIZER_SLOT/optimizer/{slot}/.ATTRIBUTES/VARIABLE_VALUE"
    return tf.train.load_variable(prefix, key)


def test_one_device_compiles_with_xla_and_trains_as_the_default_path(tmp_path):
    Trainer(spec_for(tmp_path / "default", steps=100)).run()
    one = Trainer(spec_for(tmp_path / "one", "one_device", ["CPU:0"], steps=100))
    assert one.distribution.jit_allowed and one.distribution.replicas == 1
    one.run()
    for key in stored(tmp_path / "default" / "model.ckpt-100"):
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
            a = tf.train.load_variable(str(tmp_path / "default" / "model.ckpt-100"), key)
            b = tf.train.load_variable(str(tmp_path / "one" / "model.ckpt-100"), key)
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=key)


def test_what_cannot_be_had_here_is_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"batch_size: 25 does not split evenly over 2 replicas"):
        Trainer(
            RunSpec(
                network=NetworkConfig(batch_size=25),
                model_dir=str(tmp_path),
                distribution="mirrored",
                devices=["CPU:0", "CPU:1"],
            )
        )
    with pytest.raises(ConfigError, match=r"GPU:0: not a device TensorFlow sees here \(it sees CPU:0, CPU:1"):
        Trainer(spec_for(tmp_path, "one_device", ["GPU:0"]))
    with pytest.raises(ConfigError, match="CPU:3 needs 4 logical CPU devices, but TensorFlow already started with 2"):
        Trainer(spec_for(tmp_path, "mirrored", ["CPU:0", "CPU:3"]))
    assert not any(tmp_path.iterdir())
