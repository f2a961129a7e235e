"""Restore any step into a fresh model and evaluate or predict with it — ckptgui's checkpoints and Estimator's.

The network is rebuilt from the checkpoint's own shapes (never from a config
that may have changed since) as a :class:`ckptgui.engine.model.Classifier`,
and its variables are copied in by :func:`ckptgui.engine.restore.load_weights`.
Two Estimator details make the numbers match Estimator's own ``evaluate``:

* Estimator's DNN input layer concatenates numeric feature columns sorted by
  name (PetalLength, PetalWidth, SepalLength, SepalWidth for Iris), not in the
  order they were given. The column order worked out here permutes the first
  kernel's rows so the restored model takes the data's columns in file order. The checkpoint's
  feature names come from ``ckptgui_run.json`` (ours), else from the
  ``input_layer/<name>`` nodes in Estimator's ``graph.pbtxt``, else — for a
  4-feature checkpoint — the Iris names are assumed.
* Estimator's binary head has a single logit (sigmoid); it is restored as the
  two logits ``[0, z]``, whose softmax is exactly ``[1 - sigmoid(z), sigmoid(z)]``.

``loss`` is the mean per-example cross-entropy over the rows (Estimator's
``average_loss``), computed in one batch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ckptgui.modeldir.config import ACTIVATIONS, DataConfig, NetworkConfig
from ckptgui.modeldir.data import IRIS_FEATURES, Dataset, load_dataset
from ckptgui.modeldir.records import RunLog, RunLogError, read_run_log
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, locate
from ckptgui.modeldir.variables import InferredNetwork, global_step, infer_network, list_variables
from ckptgui.storage import parent_of, storage_for

SPLITS = ("all", "test", "train")
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]
# Each feature column reshapes its input under a name scope named after it (uniquified with "_1").
ESTIMATOR_INPUT = re.compile(r'name: "dnn/input_from_feature_columns/input_layer/([^/"]+)/Reshape"')
ESTIMATOR_ACTIVATION = re.compile(r'name: "dnn/hiddenlayer_0/(Relu|Tanh|Sigmoid|Elu)"')


class InferenceError(ValueError):
    """The checkpoint cannot be evaluated this way, or the input does not fit it; the message says why."""


@dataclass
class EvalResult:
    step: int | None
    accuracy: float
    loss: float  # mean per-example cross-entropy
    examples: int
    prefix: str = ""
    split: str = "all"
    data: str = ""
    feature_names: list[str] = field(default_factory=list)  # the data columns, in the order they were fed
    notes: list[str] = field(default_factory=list)


@dataclass
class Prediction:
    class_id: int
    class_name: str
    probabilities: list[float]


@dataclass
class RestoredModel:
    """A fresh Classifier holding one checkpoint's weights, taking features in ``feature_names`` order."""

    classifier: Any  # ckptgui.engine.model.Classifier (imported lazily: TensorFlow)
    checkpoint: CheckpointInfo
    step: int | None
    network: InferredNetwork
    feature_names: list[str]
    class_names: list[str]
    notes: list[str]
    data: DataConfig | None = None  # the data the run recorded (ckptgui_run.json); None: not known

    def predict(self, features: list[list[float]]) -> list[Prediction]:
        """Class and probabilities for each row; raises InferenceError for rows of the wrong width."""
        import tensorflow as tf

        width = self.network.n_features
        try:
            rows = np.asarray(features, dtype=np.float32)
        except (TypeError, ValueError):
            raise InferenceError(f"features must be rows of {width} numbers") from None
        if rows.ndim != 2 or rows.shape[1] != width or not rows.size:
            got = f"{rows.shape[1]}" if rows.ndim == 2 else "rows of different lengths"
            raise InferenceError(f"each row needs {width} numbers ({', '.join(self.feature_names)}); got {got}")
        if not np.isfinite(rows).all():
            raise InferenceError("features must be finite numbers")
        probabilities = self.classifier.probabilities(tf.constant(rows)).numpy()
        return [
            Prediction(int(np.argmax(row)), self.class_names[int(np.argmax(row))], [float(p) for p in row])
            for row in probabilities
        ]


@dataclass
class _Origin:
    """What the model_dir says about the inputs and classes the checkpoint was trained on."""

    feature_names: list[str] | None  # in the checkpoint's input order
    class_names: list[str] | None
    activation: str
    data: DataConfig | None
    source: str  # where the feature names came from


def _run_log(model_dir: str) -> RunLog | None:
    try:
        return read_run_log(model_dir)
    except RunLogError:
        return None


def _origin(checkpoint: CheckpointInfo, network: InferredNetwork) -> _Origin:
    model_dir = parent_of(checkpoint.prefix)
    log = _run_log(model_dir)
    if log is not None and log.data.get("feature_names"):
        spec = log.spec
        return _Origin(
            list(log.data["feature_names"]),
            list(log.data.get("class_names") or []) or None,
            spec.network.activation if spec else "relu",
            spec.data if spec else None,
            "ckptgui_run.json",
        )
    if checkpoint.format != "tf1-name":  # an object-based checkpoint without our run log: no sorting to undo
        return _Origin(None, None, "relu", None, "unknown: no ckptgui_run.json; columns are fed in the data's order")
    text = _graph_text(model_dir)
    names, activation = None, "relu"
    if text is not None:
        scopes = set(ESTIMATOR_INPUT.findall(text))
        if scopes and all(scope.endswith("_1") for scope in scopes):
            scopes = {scope[:-2] for scope in scopes}
        found = sorted(scopes)  # Estimator's input layer sorts columns by name
        names = found if len(found) == network.n_features else None
        match = ESTIMATOR_ACTIVATION.search(text)
        activation = match.group(1).lower() if match else "relu"
    if names is not None:
        source = "graph.pbtxt"
    elif network.n_features == len(IRIS_FEATURES):
        names, source = sorted(IRIS_FEATURES), "assumed Iris (Estimator sorts feature columns by name)"
    else:
        source = "unknown: columns are fed in the data's order"  # an Estimator with other features, no graph
    iris = names is not None and sorted(names) == sorted(IRIS_FEATURES)
    classes = IRIS_CLASSES if iris and network.n_classes == len(IRIS_CLASSES) else None
    return _Origin(names, classes, activation if activation in ACTIVATIONS else "relu", None, source)


def _graph_text(model_dir: str) -> str | None:
    """An Estimator's ``graph.pbtxt``, None when there is none (or it cannot be read)."""
    storage = storage_for(model_dir)
    try:
        return storage.read(storage.join(model_dir, "graph.pbtxt")).decode("utf-8", errors="replace")
    except OSError:
        return None


def _column_order(origin: _Origin, n_features: int, data_names: list[str], notes: list[str]) -> list[int] | None:
    """For each checkpoint input, the data column that feeds it; None when the order is the data's own."""
    wanted = origin.feature_names
    if wanted is None:
        if len(data_names) != n_features:
            raise InferenceError(
                f"the checkpoint takes {n_features} features; the data has {len(data_names)} ({', '.join(data_names)})"
            )
        notes.append(f"the checkpoint's feature names are {origin.source}")
        return None
    if sorted(wanted) == sorted(data_names):
        order = [data_names.index(name) for name in wanted]
        return None if order == list(range(len(order))) else order
    if len(wanted) == len(data_names):
        notes.append(
            f"the data's columns ({', '.join(data_names)}) are not the checkpoint's ({', '.join(wanted)}); "
            "they were matched by position"
        )
        return None
    raise InferenceError(
        f"the checkpoint takes {len(wanted)} features ({', '.join(wanted)}); the data has {len(data_names)} "
        f"({', '.join(data_names)})"
    )


def _require_dnn(checkpoint: CheckpointInfo) -> InferredNetwork:
    if not checkpoint.usable:
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    network = infer_network(list_variables(checkpoint))
    if network is None or not network.hidden_units:
        raise InferenceError(
            f"{checkpoint.prefix} holds no DNN classifier (no dnn/hiddenlayer_N, dnn/logits variables); eval and "
            "predict need a checkpoint written by ckptgui or tf.estimator.DNNClassifier"
        )
    if network.unexplained:
        raise InferenceError(
            f"{checkpoint.prefix} holds weights outside the DNN ({', '.join(network.unexplained)}): its logits "
            "depend on them (a wide & deep model's linear part or embeddings?), so the DNN alone would give wrong "
            "answers; eval and predict read plain DNN classifiers only"
        )
    return network


def restore(
    path: str | os.PathLike, step: int | None = None, data_feature_names: list[str] | None = None
) -> RestoredModel:
    """A fresh model with the checkpoint's weights, fed columns in ``data_feature_names`` order.

    Without ``data_feature_names``: the run's own column order (ours), the
    Iris file order for an Iris Estimator checkpoint, else the checkpoint's.
    """
    checkpoint = locate(path, step)
    network = _require_dnn(checkpoint)
    return _restore(checkpoint, network, _origin(checkpoint, network), data_feature_names)


def _restore(
    checkpoint: CheckpointInfo, network: InferredNetwork, origin: _Origin, data_feature_names: list[str] | None
) -> RestoredModel:
    import tensorflow as tf

    from ckptgui.engine.model import Classifier
    from ckptgui.engine.restore import load_weights

    if data_feature_names is None:
        names = origin.feature_names
        iris = names is not None and sorted(names) == sorted(IRIS_FEATURES) and origin.source != "ckptgui_run.json"
        data_feature_names = list(IRIS_FEATURES) if iris else names
        data_feature_names = data_feature_names or [f"feature_{i}" for i in range(network.n_features)]
    notes: list[str] = []
    if origin.source.startswith("assumed"):
        notes.append(f"feature names {origin.source}")
    order = _column_order(origin, network.n_features, data_feature_names, notes)
    config = NetworkConfig(hidden_units=network.hidden_units, n_classes=network.n_classes, activation=origin.activation)
    classifier = Classifier(config, network.n_features, network.n_classes)
    try:
        load_weights(
            classifier, checkpoint, order, strict=True, training_state=False, single_logit=network.single_logit
        )
    except (KeyError, ValueError, tf.errors.OpError, IndexError) as exc:
        raise CheckpointError(f"{checkpoint.prefix}: cannot be restored ({exc})") from None
    class_names = origin.class_names or [str(i) for i in range(network.n_classes)]
    return RestoredModel(
        classifier,
        checkpoint,
        _step(checkpoint),
        network,
        list(data_feature_names),
        class_names[: network.n_classes],
        notes,
        origin.data,
    )


def first_layer_order(checkpoint: CheckpointInfo, data_feature_names: list[str]) -> tuple[list[int] | None, list[str]]:
    """How the data's columns map onto the checkpoint's inputs (None: as they are), with notes on assumptions.

    An Estimator checkpoint's input layer took its numeric columns sorted by name,
    so restoring it for data in file order must rearrange the first kernel's rows.
    """
    network = _require_dnn(checkpoint)
    notes: list[str] = []
    return _column_order(_origin(checkpoint, network), network.n_features, data_feature_names, notes), notes


def _step(checkpoint: CheckpointInfo) -> int | None:
    stored = global_step(checkpoint)
    return stored if stored is not None else checkpoint.step


def _dataset(data: DataConfig | Dataset | None, origin_data: DataConfig | None, n_classes: int) -> Dataset:
    if isinstance(data, Dataset):
        return data
    return load_dataset(data or origin_data or DataConfig(), n_classes)


def evaluate(
    path: str | os.PathLike,
    step: int | None = None,
    data: DataConfig | Dataset | None = None,
    split: str = "test",
) -> EvalResult:
    """Accuracy and mean loss of one checkpoint over the data's rows (``split``: all, test or train).

    The test split by default, everywhere (training's evaluations, the window, ``ckptgui eval``): the same step
    gives the same numbers wherever it is evaluated, as Estimator evaluated on its eval input.

    ``data`` None: the data the run recorded in ckptgui_run.json, else the bundled Iris.
    """
    if split not in SPLITS:
        raise InferenceError(f"split {split!r} is not allowed; expected one of {', '.join(SPLITS)}")
    checkpoint = locate(path, step)
    network = _require_dnn(checkpoint)
    origin = _origin(checkpoint, network)
    dataset = _dataset(data, origin.data, network.n_classes)
    import tensorflow as tf  # after every check of the input: bad input is answered at once

    model = _restore(checkpoint, network, origin, dataset.feature_names)
    features, labels = {"all": (dataset.features, dataset.labels), "test": dataset.test, "train": dataset.train}[split]
    if len(labels) == 0:
        raise InferenceError(f"{dataset.source}: the {split} split has no rows")
    loss, accuracy = model.classifier.loss_and_accuracy(
        tf.constant(features, dtype=tf.float32), tf.constant(labels, dtype=tf.int32)
    )
    return EvalResult(
        model.step,
        float(accuracy),
        float(loss),
        len(labels),
        checkpoint.prefix,
        split,
        dataset.source,
        list(dataset.feature_names),
        model.notes,
    )


def predict(path: str | os.PathLike, features: list[list[float]], step: int | None = None) -> list[Prediction]:
    """Class and probabilities for each row of ``features`` (columns in the run's or Iris file order)."""
    return restore(path, step).predict(features)
