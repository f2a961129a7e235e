"""Export one checkpoint for serving: a SavedModel with Estimator's classifier signatures, ``.keras``, ``.tflite``.

Any checkpoint :func:`ckptgui.engine.inference.restore` can restore (ours, Estimator DNNClassifier's) is exported
from that restored model, so its columns are the data's, in the data's order.

* **SavedModel** (``saved_model.pb``, ``variables/``) in ``BASE/<version>/``, ``<version>`` the Unix time in
  seconds as Estimator's ``export_saved_model`` named it (TF Serving serves the highest number). Its signatures are
  those TF 2.15's Estimator wrote for a DNNClassifier exported with a parsing receiver (tests/fixtures/
  estimator_export/ holds that reference): ``serving_default`` and ``classification`` take a batch of serialized
  ``tf.Example`` (``inputs``, one float feature per column name) and return ``classes`` (the class ids ``"0"``,
  ``"1"``… for every row, string ``[batch, n_classes]``) and ``scores`` (probabilities), under the method name
  ``tensorflow/serving/classify`` TF Serving's Classify API requires; ``predict`` takes ``examples`` and returns
  ``logits``, ``probabilities``, ``class_ids``, ``classes``, ``all_class_ids``, ``all_classes``. ``serving_raw`` is
  ours: the same outputs from a float ``features`` ``[batch, n_features]`` tensor, for clients that build no
  Examples. ``tf.saved_model.save`` names every signature's method ``tensorflow/serving/predict``, so the two
  classify signatures are renamed in ``saved_model.pb`` afterwards and its fingerprint is written again.
  ``assets.extra/ckptgui_export.json`` (ignored by TF Serving, as Estimator's extra assets were) records the source
  checkpoint, the feature order and the class names.
* **.keras**: a Keras 3 functional model ``dnn`` with Dense layers ``hiddenlayer_N`` and ``logits`` (Keras forbids
  ``/`` in layer names) and a ``probabilities`` softmax, so ``predict`` returns what ckptgui's predict does.
* **.tflite**: converted by ``TFLiteConverter.from_saved_model`` from a SavedModel holding only the float part
  (``features`` in; ``logits``, ``probabilities``, ``class_ids`` out): parsing Examples and string outputs are not
  TFLite built-in operators.

Every export is written into a hidden staging folder beside its target, reloaded in a fresh process (the
``export-check`` command) and run on the test split of the run's data (else random rows); only when its
probabilities equal ckptgui's within the format's tolerance is it renamed into place. An existing target is
replaced only with ``force``; a failed export removes the staging folder and any folder it created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import ckptgui
from ckptgui.engine.inference import RestoredModel, restore
from ckptgui.modeldir.config import DataConfig
from ckptgui.modeldir.data import DataError, load_dataset
from ckptgui.modeldir.layout import EXPORT_FOLDER, EXPORT_STAGING_PREFIX

FORMATS = ("savedmodel", "keras", "tflite")
SUFFIXES = {"savedmodel": "", "keras": ".keras", "tflite": ".tflite"}
TOLERANCES = {"savedmodel": 1e-6, "keras": 1e-6, "tflite": 1e-5}
SIGNATURES = ("serving_default", "classification", "predict", "serving_raw")
CLASSIFY_SIGNATURES = ("serving_default", "classification")
CLASSIFY_METHOD = "tensorflow/serving/classify"
TFLITE_SIGNATURE = "serving_default"
MANIFEST = Path("assets.extra") / "ckptgui_export.json"
CHECK_COMMAND = "export-check"  # the hidden CLI command that reloads an export in a fresh process
CHECK_TIMEOUT_S = 300
RANDOM_ROWS = 32


class ExportError(ValueError):
    """The export cannot be made as asked (format, target, permissions); nothing was written."""


class TargetExistsError(ExportError):
    """The target is there already and ``force`` was not given."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} already exists")
        self.target = target


class VerificationError(RuntimeError):
    """The reloaded export did not reproduce ckptgui's probabilities; nothing was kept."""


@dataclass
class ExportResult:
    format: str
    path: str  # the SavedModel folder, or the .keras / .tflite file
    prefix: str  # the checkpoint exported
    step: int | None
    feature_names: list[str]  # serving_raw's column order; the Example feature names
    class_names: list[str]  # class id i is class_names[i]
    signatures: list[str]
    checked_rows: int
    checked_on: str  # which rows the fresh process ran
    max_abs_difference: float  # largest |probability - ckptgui's| over every checked output
    tolerance: float
    seconds: float
    notes: list[str] = field(default_factory=list)


def default_base(prefix: str) -> Path:
    """``MODEL_DIR/export`` for the checkpoint ``prefix``: where Estimator's users exported to."""
    return Path(prefix).parent / EXPORT_FOLDER


def export(
    path: str | os.PathLike,
    step: int | None = None,
    fmt: str = "savedmodel",
    out: str | os.PathLike | None = None,
    *,
    version: int | None = None,
    force: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the checkpoint ``path``/``step`` names as ``fmt`` and verify it before it is put in place.

    ``out``: the base folder (default ``MODEL_DIR/export``); a ``.keras``/``.tflite`` export may also name its
    file. ``version``: the name under the base (default: the current Unix time, the next free second when taken).
    Raises the restore's errors (CheckpointError, InferenceError), :class:`ExportError` and
    :class:`VerificationError`; on any of them nothing is left behind.
    """
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not known; expected one of {', '.join(FORMATS)}")
    started = time.monotonic()
    report = on_progress or (lambda stage: None)
    report("restoring the checkpoint")
    model = restore(path, step)
    target = _target(Path(out) if out is not None else default_base(model.checkpoint.prefix), fmt, version)
    if _exists(target) and not force:
        raise TargetExistsError(target)
    created = _make_folders(target.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=EXPORT_STAGING_PREFIX, dir=target.parent))
    except OSError as exc:
        _remove_empty(created)
        raise ExportError(f"cannot write to {target.parent}: {exc.strerror or exc}") from None
    try:
        payload = staging / f"model{SUFFIXES[fmt]}"
        report(f"writing the {fmt} export")
        signatures = WRITERS[fmt](model, payload, staging)
        report("reloading it in a fresh process")
        rows, checked_on, notes = _check_rows(model)
        difference = _verify(model, fmt, payload, rows, staging)
        report("moving it into place")
        _move_into_place(payload, target, staging, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(
        fmt,
        str(target),
        model.checkpoint.prefix,
        model.step,
        list(model.feature_names),
        list(model.class_names),
        signatures,
        len(rows),
        checked_on,
        difference,
        TOLERANCES[fmt],
        round(time.monotonic() - started, 3),
        [*model.notes, *notes],
    )


# where -----------------------------------------------------------------------------------------------------


def _target(out: Path, fmt: str, version: int | None) -> Path:
    suffix = SUFFIXES[fmt]
    if suffix and out.suffix == suffix:
        if version is not None:
            raise ExportError(f"{out} names the file already; a version names an export under a folder")
        return out
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; the export needs a folder (or, for {fmt}, a *{suffix} file name)")
    if version is not None:
        if version < 0:
            raise ExportError(f"version {version} is negative; TF Serving serves versions 0, 1, 2, …")
        return out / f"{version}{suffix}"
    version = int(time.time())
    while _exists(out / f"{version}{suffix}"):
        version += 1  # two exports in one second: Estimator waited for the next one
    return out / f"{version}{suffix}"


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not _exists(p)][::-1]
    for index, path in enumerate(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_empty(missing[:index])
            raise ExportError(f"cannot create {path}: {exc.strerror or exc}") from None
    return missing


def _remove_empty(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def _move_into_place(payload: Path, target: Path, staging: Path, force: bool) -> None:
    """Rename the verified export to ``target``; an old one (only with ``force``) moves into staging, to be removed."""
    aside = None
    if _exists(target):
        if not force:
            raise TargetExistsError(target)
        aside = staging / "replaced"
        os.rename(target, aside)
    try:
        if payload.is_dir():
            os.rename(payload, target)  # fails if a non-empty folder appeared there meanwhile
        else:
            _place_file(payload, target)
    except OSError as exc:
        if aside is not None:
            os.rename(aside, target)
        if isinstance(exc, FileExistsError) or _exists(target):
            raise TargetExistsError(target) from None
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None


def _place_file(payload: Path, target: Path) -> None:
    """A hard link fails if a file appeared at ``target`` meanwhile, where a rename would silently replace it."""
    try:
        os.link(payload, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT, some network shares): the check above must do
        os.replace(payload, target)


# what ------------------------------------------------------------------------------------------------------


def _head(logits: Any, n_classes: int) -> dict[str, Any]:
    """The outputs of Estimator's multi-class head for a batch of logits (class ids as strings: no vocabulary)."""
    import tensorflow as tf

    batch = tf.shape(logits)[0]
    class_ids = tf.expand_dims(tf.argmax(logits, axis=-1), -1)
    all_class_ids = tf.range(n_classes, dtype=tf.int32)
    return {
        "logits": logits,
        "probabilities": tf.nn.softmax(logits),
        "class_ids": class_ids,
        "classes": tf.strings.as_string(class_ids),
        "all_class_ids": tf.tile(all_class_ids[None], [batch, 1]),
        "all_classes": tf.tile(tf.strings.as_string(all_class_ids)[None], [batch, 1]),
    }


def _serving_module(model: RestoredModel, tflite: bool = False) -> tuple[Any, dict[str, Any]]:
    """A module holding only the network's variables, and its signature functions."""
    import tensorflow as tf

    module = tf.Module()
    module.dnn = model.classifier.dnn
    names = list(model.feature_names)
    n_classes = model.network.n_classes
    spec = {name: tf.io.FixedLenFeature([1], tf.float32) for name in names}

    def from_examples(serialized: Any) -> dict[str, Any]:
        parsed = tf.io.parse_example(serialized, spec)
        return _head(module.dnn(tf.concat([parsed[name] for name in names], axis=1)), n_classes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify(inputs: Any) -> dict[str, Any]:
        outputs = from_examples(inputs)
        return {"classes": outputs["all_classes"], "scores": outputs["probabilities"]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def predict(examples: Any) -> dict[str, Any]:
        return from_examples(examples)

    @tf.function(input_signature=[tf.TensorSpec([None, len(names)], tf.float32)])
    def serving_raw(features: Any) -> dict[str, Any]:
        return _head(module.dnn(features), n_classes)

    @tf.function(input_signature=[tf.TensorSpec([None, len(names)], tf.float32)])
    def numeric(features: Any) -> dict[str, Any]:
        outputs = _head(module.dnn(features), n_classes)
        return {key: outputs[key] for key in ("logits", "probabilities", "class_ids")}

    if tflite:
        return module, {TFLITE_SIGNATURE: numeric}
    return module, {
        "serving_default": classify,
        "classification": classify,
        "predict": predict,
        "serving_raw": serving_raw,
    }


def _write_saved_model(model: RestoredModel, payload: Path, staging: Path) -> list[str]:
    import tensorflow as tf

    module, signatures = _serving_module(model)
    tf.saved_model.save(module, str(payload), signatures=signatures)
    _set_classify_methods(payload)
    manifest = payload / MANIFEST
    manifest.parent.mkdir()
    manifest.write_text(json.dumps(_manifest(model), indent=1) + "\n")
    return list(SIGNATURES)


def _set_classify_methods(export_dir: Path) -> None:
    """Name the classify signatures' method as TF Serving's Classify API needs, and write the fingerprint again."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.saved_model import fingerprinting_utils

    proto_path = export_dir / "saved_model.pb"
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(proto_path.read_bytes())
    for meta_graph in saved.meta_graphs:
        for name in CLASSIFY_SIGNATURES:
            meta_graph.signature_def[name].method_name = CLASSIFY_METHOD
    proto_path.write_bytes(saved.SerializeToString(deterministic=True))
    fingerprinting_utils.write_fingerprint(str(export_dir))  # it hashes saved_model.pb


def _manifest(model: RestoredModel) -> dict[str, Any]:
    return {
        "exported_by": f"ckptgui {ckptgui.__version__}",
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checkpoint": model.checkpoint.prefix,
        "step": model.step,
        "feature_names": list(model.feature_names),
        "class_names": list(model.class_names),
        "classes_output": "class ids as strings: class_names[int(id)] names one",
    }


def _write_keras(model: RestoredModel, payload: Path, staging: Path) -> list[str]:
    import keras

    dnn = model.classifier.dnn
    inputs = keras.Input(shape=(model.network.n_features,), name="features")
    net = inputs
    layers: list[tuple[Any, Any]] = []
    for index, hidden in enumerate(dnn.hidden):
        activation = model.classifier.network.activation
        layer = keras.layers.Dense(hidden.bias.shape[0], activation=activation, name=f"hiddenlayer_{index}")
        net = layer(net)
        layers.append((layer, hidden))
    logits_layer = keras.layers.Dense(dnn.logits.bias.shape[0], name="logits")
    layers.append((logits_layer, dnn.logits))
    probabilities = keras.layers.Softmax(name="probabilities")(logits_layer(net))
    keras_model = keras.Model(inputs, probabilities, name="dnn")
    for layer, source in layers:
        layer.set_weights([source.kernel.numpy(), source.bias.numpy()])
    keras_model.save(str(payload))
    return []


def _write_tflite(model: RestoredModel, payload: Path, staging: Path) -> list[str]:
    import tensorflow as tf

    saved = staging / "savedmodel-for-tflite"
    module, signatures = _serving_module(model, tflite=True)
    tf.saved_model.save(module, str(saved), signatures=signatures)
    payload.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert())
    shutil.rmtree(saved)
    return [TFLITE_SIGNATURE]


WRITERS: dict[str, Callable[[RestoredModel, Path, Path], list[str]]] = {
    "savedmodel": _write_saved_model,
    "keras": _write_keras,
    "tflite": _write_tflite,
}


# check -----------------------------------------------------------------------------------------------------


def _check_rows(model: RestoredModel) -> tuple[np.ndarray, str, list[str]]:
    """The test split of the run's data (else Iris) when it fits the model; else reproducible random rows."""
    try:
        dataset = load_dataset(model.data or DataConfig(), model.network.n_classes)
    except DataError as exc:
        why = f"the run's data cannot be read ({exc})"
    else:
        rows = dataset.test[0]
        if dataset.feature_names == model.feature_names and len(rows):
            return rows.astype(np.float32), f"the test split of {dataset.source}", []
        why = f"{dataset.source} does not have the model's columns ({', '.join(model.feature_names)})"
    rows = np.random.default_rng(0).normal(size=(RANDOM_ROWS, model.network.n_features)).astype(np.float32)
    return rows, "random rows", [f"checked on {RANDOM_ROWS} random rows: {why}"]


def _verify(model: RestoredModel, fmt: str, payload: Path, rows: np.ndarray, staging: Path) -> float:
    """Run the export in a fresh process; the largest probability difference to ckptgui's predict."""
    expected = np.array([p.probabilities for p in model.predict(rows.tolist())])
    request, answer = staging / "check-request.json", staging / "check-answer.json"
    request.write_text(json.dumps({"rows": rows.tolist(), "feature_names": list(model.feature_names)}))
    _reload(fmt, payload, request, answer)
    return _compare(fmt, json.loads(answer.read_text()), expected, model.network.n_classes)


def _reload(fmt: str, payload: Path, request: Path, answer: Path) -> None:
    """The ``export-check`` command in a fresh process: ``answer`` holds what the export returned for ``request``."""
    command = [*_ckptgui_command(), CHECK_COMMAND, fmt, str(payload), str(request), str(answer)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if not getattr(sys, "frozen", False):
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise VerificationError(f"reloading the export took over {CHECK_TIMEOUT_S} s") from None
    if done.returncode != 0 or not answer.exists():
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise VerificationError(f"the export could not be reloaded in a fresh process: {tail}")


def _compare(fmt: str, outputs: dict[str, dict[str, list]], expected: np.ndarray, n_classes: int) -> float:
    """Largest |probability difference| over every signature; raises VerificationError on any mismatch."""
    tolerance = TOLERANCES[fmt]
    wanted_ids = np.argmax(expected, axis=1)
    ranked = np.sort(expected, axis=1)
    decisive = ranked[:, -1] - ranked[:, -2] > 2 * tolerance if n_classes > 1 else np.ones(len(expected), bool)
    id_strings = [str(i) for i in range(n_classes)]
    largest = 0.0
    for name, result in outputs.items():
        probabilities = np.asarray(result.get("scores", result.get("probabilities")), dtype=np.float64)
        if probabilities.shape != expected.shape:
            raise VerificationError(f"{name}: probabilities of shape {probabilities.shape}, expected {expected.shape}")
        difference = float(np.max(np.abs(probabilities - expected)))
        largest = max(largest, difference)
        if not difference <= tolerance:
            raise VerificationError(f"{name}: probabilities differ from ckptgui's by {difference:.3g} > {tolerance}")
        problems = []
        if "class_ids" in result:
            class_ids = np.asarray(result["class_ids"]).reshape(-1)
            if not np.array_equal(class_ids[decisive], wanted_ids[decisive]):
                problems.append("class_ids")
            if "classes" in result and result["classes"] != [[str(i)] for i in class_ids]:
                problems.append("classes")
        elif "classes" in result and result["classes"] != [id_strings] * len(expected):
            problems.append("classes")
        if "all_classes" in result and result["all_classes"] != [id_strings] * len(expected):
            problems.append("all_classes")
        if "all_class_ids" in result and result["all_class_ids"] != [list(range(n_classes))] * len(expected):
            problems.append("all_class_ids")
        if problems:
            raise VerificationError(f"{name}: {', '.join(problems)} do not match ckptgui's predict")
    return largest


def _ckptgui_command() -> list[str]:
    """How to start ckptgui again: the frozen app's own executable, else this Python with ``-m ckptgui``."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "ckptgui"]


def run_export(fmt: str, path: str | os.PathLike, rows: list[list[float]], feature_names: list[str]) -> dict:
    """Load an export as its users will and run every signature on ``rows``: ``{signature: {output: values}}``.

    Runs in the fresh process of the ``export-check`` command, so nothing of the exporting process
    (its variables, its traced functions) can make a broken export look right.
    """
    import tensorflow as tf

    batch = np.asarray(rows, dtype=np.float32)
    if fmt == "keras":
        import keras

        loaded = keras.saving.load_model(str(path))
        return {"keras": {"probabilities": loaded.predict(batch, verbose=0).tolist()}}
    if fmt == "tflite":
        interpreter = tf.lite.Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner(TFLITE_SIGNATURE)
        return {TFLITE_SIGNATURE: _plain(runner(features=batch))}
    loaded = tf.saved_model.load(str(path))
    examples = tf.constant([_example(row, feature_names) for row in batch])
    outputs = {}
    for name in SIGNATURES:
        function = loaded.signatures[name]
        (key,) = function.structured_input_signature[1]
        outputs[name] = _plain(function(**{key: tf.constant(batch) if name == "serving_raw" else examples}))
    return outputs


def _example(row: np.ndarray, feature_names: list[str]) -> bytes:
    import tensorflow as tf

    feature = {
        name: tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        for name, value in zip(feature_names, row, strict=True)
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _plain(outputs: dict[str, Any]) -> dict[str, list]:
    plain = {}
    for key, value in outputs.items():
        array = np.asarray(value)
        if array.dtype.kind in "OS":  # TensorFlow's strings are bytes
            array = np.vectorize(lambda item: item.decode() if isinstance(item, bytes) else str(item), otypes=[str])(
                array
            )
        plain[key] = array.tolist()
    return plain


def check_main(fmt: str, path: str, request: str, answer: str) -> None:
    """The ``export-check`` command: the rows from ``request`` through :func:`run_export`, into ``answer``."""
    asked = json.loads(Path(request).read_text())
    outputs = run_export(fmt, path, asked["rows"], asked["feature_names"])
    Path(answer).write_text(json.dumps(outputs))
