"""restore.load_weights: the one restore behind resume, warm start, evaluate and predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ckptgui.engine.model import Classifier
from ckptgui.engine.restore import FIRST_KERNEL, RestoreError, feed_from_data, load_weights
from ckptgui.modeldir.config import OPTIMIZER_SLOTS, NetworkConfig
from ckptgui.modeldir.scan import locate

ESTIMATOR = Path(__file__).parents[1] / "fixtures" / "estimator_dnn_iris" / "model.ckpt-200"
ORDER = [2, 3, 0, 1]  # Estimator's sorted columns (PetalLength, PetalWidth, SepalLength, SepalWidth) in file order


def classifier(hidden_units: list[int]) -> Classifier:
    return Classifier(NetworkConfig(hidden_units=hidden_units), 4, 3, seed=1)


def test_a_resume_copies_weights_slots_and_step_with_the_first_layer_reordered():
    reader = tf.train.load_checkpoint(str(ESTIMATOR))
    model = classifier([10, 10])
    loaded = load_weights(model, locate(str(ESTIMATOR)), ORDER, strict=True, training_state=True)
    assert sorted(loaded) == sorted(model.dnn.named_variables())
    assert int(model.global_step.numpy()) == 200
    assert int(model.optimizer.iterations.numpy()) == 200  # Estimator stored none: its optimizer stepped per step
    first = model.dnn.named_variables()[FIRST_KERNEL].numpy()
    stored = reader.get_tensor("dnn/hiddenlayer_0/kernel")
    assert np.array_equal(first, feed_from_data(stored, ORDER))
    assert np.array_equal(first[ORDER], stored)  # data column ORDER[j] multiplies the checkpoint's input j
    slots = {
        name: model.optimizer.get_slot(v, "accumulator").numpy() for name, v in model.dnn.named_variables().items()
    }
    accumulators = "training/Adagrad/{}/accumulator"
    assert np.array_equal(slots["dnn/logits/bias"], reader.get_tensor(accumulators.format("dnn/logits/bias")))
    assert np.array_equal(
        slots[FIRST_KERNEL], feed_from_data(reader.get_tensor(accumulators.format(FIRST_KERNEL)), ORDER)
    )


def test_a_strict_restore_refuses_a_network_of_another_shape():
    with pytest.raises(RestoreError, match="dnn/hiddenlayer_0/kernel is missing or has another shape"):
        load_weights(classifier([20, 20]), locate(str(ESTIMATOR)), None, strict=True, training_state=True)


def test_a_warm_start_loads_only_what_fits_and_leaves_the_step():
    model = classifier([10, 20])
    loaded = load_weights(model, locate(str(ESTIMATOR)), None, strict=False, training_state=True)
    assert loaded == ["dnn/hiddenlayer_0/kernel", "dnn/hiddenlayer_0/bias", "dnn/logits/bias"]
    assert int(model.global_step.numpy()) == 0


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZER_SLOTS))
def test_two_resumed_halves_train_exactly_as_one_call_for_every_optimizer(tmp_path, optimizer):
    """A resume restores the whole optimizer state, its step counter too (Adam's bias correction counts it)."""
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(200, 8, 4)), tf.float32)
    labels = tf.constant(rng.integers(0, 3, size=(200, 8)), tf.int32)
    network = NetworkConfig(hidden_units=[6], optimizer=optimizer, learning_rate=0.05)

    def train(model: Classifier, steps: range) -> None:
        step = tf.function(model.train_step)
        for index in steps:
            step(features[index], labels[index])

    whole = Classifier(network, 4, 3, seed=3)
    train(whole, range(200))
    first = Classifier(network, 4, 3, seed=3)
    train(first, range(100))
    first.checkpoint.write(str(tmp_path / "model.ckpt-100"))
    second = Classifier(network, 4, 3, seed=99)
    load_weights(second, locate(str(tmp_path / "model.ckpt-100")), None, strict=True, training_state=True)
    assert int(second.optimizer.iterations.numpy()) == 100
    train(second, range(100, 200))
    assert int(second.optimizer.iterations.numpy()) == int(second.global_step.numpy()) == 200
    resumed = second.dnn.named_variables()
    for name, variable in whole.dnn.named_variables().items():
        np.testing.assert_allclose(resumed[name].numpy(), variable.numpy(), rtol=1e-6, err_msg=name)
