"""Adopting a checkpoint's network keeps the form's other settings, without a window."""

from __future__ import annotations

from ckptgui.modeldir.config import DataConfig, NetworkConfig
from ckptgui.modeldir.data import load_dataset
from ckptgui.modeldir.variables import InferredNetwork
from ckptgui.workspace.adopt import network_from_checkpoint


def test_shapes_and_optimizer_come_from_the_checkpoint_the_rest_from_the_form():
    iris = load_dataset(DataConfig(), None)
    current = NetworkConfig(hidden_units=[10, 10], learning_rate=0.5, steps=1234)
    inferred = InferredNetwork(hidden_units=[20, 7], n_features=4, n_classes=3, optimizer_slots=["Adagrad"])
    adopted = network_from_checkpoint(inferred, current, iris)
    assert list(adopted.hidden_units) == [20, 7]
    assert adopted.n_classes is None  # the data's own 3 classes: nothing to force
    assert adopted.optimizer == "Adagrad"
    assert (adopted.learning_rate, adopted.steps) == (0.5, 1234)


def test_a_different_number_of_classes_is_kept_explicitly():
    inferred = InferredNetwork(hidden_units=[5], n_features=4, n_classes=5, optimizer_slots=["unknown"])
    assert inferred.optimizer is None
    adopted = network_from_checkpoint(inferred, NetworkConfig(optimizer="Adam"), None)
    assert adopted.n_classes == 5
    assert adopted.optimizer == "Adam"  # slots that name no optimizer: the form's stays
