"""The one way a checkpoint's weights get into a fresh :class:`Classifier`: resume, warm start, evaluate, predict.

Variables are matched by readable name (``dnn/hiddenlayer_0/kernel``), so
ckptgui's object-based checkpoints and Estimator's name-based ones restore
alike. Two Estimator details are undone on the way in: its input layer took
the feature columns sorted by name (the first kernel's rows are rearranged to
the data's column order, ``order``), and its binary head has a single logit
(restored as the two logits ``[0, z]``, whose softmax is exactly
``[1 - sigmoid(z), sigmoid(z)]``).
"""

from __future__ import annotations

import numpy as np

from ckptgui.engine.model import Classifier
from ckptgui.modeldir.scan import CheckpointInfo
from ckptgui.modeldir.tensors import TensorSource
from ckptgui.modeldir.variables import VariableInfo, list_variables

FIRST_KERNEL = "dnn/hiddenlayer_0/kernel"
# The optimizer's own step counter as ckptgui, Keras 3 and Keras 2 store it. Adam's bias correction counts it, so a
# resume that left it at 0 would restart Adam at t=1. Estimator's checkpoints have none: its optimizers stepped once
# per global step, which stands in for it.
OPTIMIZER_STEP_NAMES = ("optimizer/iterations", "optimizer/_iterations", "optimizer/iter")


class RestoreError(ValueError):
    """A network variable the restore requires is missing from the checkpoint or has another shape."""


def feed_from_data(kernel: np.ndarray, order: list[int] | None) -> np.ndarray:
    """Rows of the first kernel rearranged so row j multiplies data column j (``order``: None keeps them)."""
    if order is None:
        return kernel
    rearranged = np.empty_like(kernel)
    rearranged[order] = kernel
    return rearranged


def load_weights(
    classifier: Classifier,
    checkpoint: CheckpointInfo,
    order: list[int] | None,
    *,
    strict: bool,
    training_state: bool,
    single_logit: bool = False,
) -> list[str]:
    """Copy the checkpoint's network variables into ``classifier``; returns the readable names loaded.

    ``strict``: every network variable must be there with the right shape (else :class:`RestoreError`);
    otherwise absent or reshaped ones are skipped (a warm start). ``training_state``: the optimizer's slots
    come along, and when strict also the global step and the optimizer's step counter, after every tensor of
    the checkpoint was read once (a resume must not start from a checkpoint with any damaged tensor). The
    learning rate is the run spec's, not the checkpoint's: a continued run may change it. ``single_logit``: an
    Estimator binary head, restored as two logits. TensorFlow's and h5py's read errors pass through.
    """
    stored = {info.name: info for info in list_variables(checkpoint)}
    loaded: list[str] = []
    with TensorSource(checkpoint) as source:

        def value(key: str, name: str) -> np.ndarray:
            tensor = source.get(key).astype(np.float32)
            if name == FIRST_KERNEL:
                tensor = feed_from_data(tensor, order)
            if single_logit and name.startswith("dnn/logits/"):
                tensor = np.concatenate([np.zeros_like(tensor), tensor], axis=-1)  # softmax([0, z]) = sigmoid
            return tensor

        for name, variable in classifier.dnn.named_variables().items():
            info = stored.get(name)
            if info is None or _restored_shape(info, name, single_logit) != variable.shape.as_list():
                if strict:
                    raise RestoreError(f"{name} is missing or has another shape")
                continue
            variable.assign(value(info.key, name))
            loaded.append(name)
            if training_state:
                for slot_name in classifier.optimizer.get_slot_names():
                    slot = classifier.optimizer.get_slot(variable, slot_name)
                    slot_info = info.slots.get(slot_name)
                    if slot is not None and slot_info is not None and list(slot_info.shape) == slot.shape.as_list():
                        slot.assign(value(slot_info.key, name))
        if training_state and strict:
            if "global_step" in stored:
                classifier.global_step.assign(int(source.get(stored["global_step"].key)))
            counter = next((stored[name] for name in OPTIMIZER_STEP_NAMES if name in stored), None)
            iterations = classifier.global_step if counter is None else int(source.get(counter.key))
            classifier.optimizer.iterations.assign(iterations)
            for key in source.stored_keys():
                source.check(key)
    return loaded


def _restored_shape(info: VariableInfo, name: str, single_logit: bool) -> list[int]:
    shape = list(info.shape)
    return [*shape[:-1], 2 * shape[-1]] if single_logit and name.startswith("dnn/logits/") and shape else shape
