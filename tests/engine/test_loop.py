"""loop.py: the compiled training loop runs N steps per call and evaluates on request, in the same call."""

from __future__ import annotations

import pytest
import tensorflow as tf

from ckptgui.engine.loop import CompiledLoop
from ckptgui.engine.model import Classifier
from ckptgui.modeldir.config import DataConfig, NetworkConfig
from ckptgui.modeldir.data import load_dataset, parse_csv


def loop_for(dataset) -> CompiledLoop:
    classifier = Classifier(NetworkConfig(hidden_units=[10, 10]), dataset.n_features, dataset.n_classes, seed=1)
    return CompiledLoop(classifier, dataset, batch_size=20, seed=1)


def test_a_call_runs_its_steps_and_evaluates_the_test_split_when_asked():
    dataset = load_dataset(DataConfig())
    loop = loop_for(dataset)
    loss, accuracy, metrics = loop.run(7, with_eval=False)
    assert int(loop.classifier.global_step.numpy()) == 7
    assert metrics is None and loss > 0 and 0 <= accuracy <= 1
    test_x, test_y = dataset.test
    expected_loss, expected_accuracy = loop.classifier.loss_and_accuracy(tf.constant(test_x), tf.constant(test_y))
    assert loop.evaluate() == pytest.approx({"accuracy": float(expected_accuracy), "loss": float(expected_loss)})
    assert int(loop.classifier.global_step.numpy()) == 7  # evaluating trains nothing


def test_without_a_test_split_the_metrics_are_empty():
    dataset = parse_csv(b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", "four rows")  # every fifth row is test: none
    loop = loop_for(dataset)
    assert loop.run(3, with_eval=True)[2] == {}
    assert loop.evaluate() == {}
