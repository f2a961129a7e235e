"""export.py: SavedModel with Estimator's signatures, .keras and .tflite, each reloaded and equal to predict.

The signature reference is what TF 2.15's Estimator exported for the same DNNClassifier
(tests/fixtures/estimator_export/, written by make_estimator_export.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, FIXTURES, KERAS, MANAGER, trained_model_dir
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.saved_model import fingerprinting_utils

from ckptgui.engine import export as export_module
from ckptgui.engine.export import (
    ExportError,
    TargetExistsError,
    VerificationError,
    export,
)
from ckptgui.engine.inference import InferenceError, predict
from ckptgui.engine.training import Trainer
from ckptgui.modeldir.config import DataConfig, NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.data import IRIS_FEATURES, load_dataset
from ckptgui.modeldir.scan import CheckpointError, scan

REFERENCE = FIXTURES / "estimator_export"
ESTIMATOR_SIGNATURES = json.loads((REFERENCE / "signatures.json").read_text())
ESTIMATOR_OUTPUTS = json.loads((REFERENCE / "outputs.json").read_text())
TEST_ROWS = load_dataset(DataConfig()).test[0]
TF2_INIT_OP = "__saved_model_init_op"  # every TF2 SavedModel has it; TF Serving skips it


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


def signature_table(export_dir: Path) -> dict:
    """Every SignatureDef as make_estimator_export.py records it."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    (meta,) = saved.meta_graphs

    def tensors(mapping) -> dict:
        return {
            key: {"dtype": tf.dtypes.as_dtype(info.dtype).name, "shape": [d.size for d in info.tensor_shape.dim]}
            for key, info in sorted(mapping.items())
        }

    return {
        name: {"method_name": sig.method_name, "inputs": tensors(sig.inputs), "outputs": tensors(sig.outputs)}
        for name, sig in sorted(meta.signature_def.items())
        if name != TF2_INIT_OP
    }


def examples(rows: np.ndarray, names: list[str]) -> tf.Tensor:
    return tf.constant([export_module._example(row, names) for row in rows])


def probabilities(path: str | Path, rows: np.ndarray, step: int | None = None) -> np.ndarray:
    return np.array([p.probabilities for p in predict(path, rows.tolist(), step=step)])


# SavedModel ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours_exported(ours: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, export_module.ExportResult]:
    out = tmp_path_factory.mktemp("exports")
    return {step: export(ours, step, out=out, version=step) for step in (100, 200)}


def test_signatures_are_estimators_plus_serving_raw(ours_exported) -> None:
    table = signature_table(Path(ours_exported[200].path))
    reference = ESTIMATOR_SIGNATURES["signatures"]
    assert {name: table[name] for name in reference} == reference
    raw = table["serving_raw"]
    assert raw["method_name"] == "tensorflow/serving/predict"
    assert raw["inputs"] == {"features": {"dtype": "float32", "shape": [-1, 4]}}
    assert raw["outputs"] == reference["predict"]["outputs"]
    assert sorted(table) == ["classification", "predict", "serving_default", "serving_raw"]
    assert ours_exported[200].signatures == ["serving_default", "classification", "predict", "serving_raw"]


@pytest.mark.parametrize("step", [100, 200])
def test_reloaded_saved_model_equals_predict(ours: Path, ours_exported, step: int) -> None:
    result = ours_exported[step]
    assert Path(result.path) == Path(result.path).parent / str(step)
    assert result.step == step and result.prefix.endswith(f"model.ckpt-{step}")
    assert result.checked_rows == 30 and result.checked_on == "the test split of iris"
    assert result.max_abs_difference <= 1e-6
    expected = probabilities(ours, TEST_ROWS, step)
    loaded = tf.saved_model.load(result.path)
    by_example = loaded.signatures["classification"](inputs=examples(TEST_ROWS, result.feature_names))
    raw = loaded.signatures["serving_raw"](features=tf.constant(TEST_ROWS))
    np.testing.assert_allclose(by_example["scores"].numpy(), expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(raw["probabilities"].numpy(), by_example["scores"].numpy(), atol=1e-7, rtol=0)
    assert raw["class_ids"].numpy()[:, 0].tolist() == np.argmax(expected, axis=1).tolist()
    assert by_example["classes"].numpy()[0].tolist() == [b"0", b"1", b"2"]
    manifest = json.loads((Path(result.path) / "assets.extra" / "ckptgui_export.json").read_text())
    assert manifest["step"] == step and manifest["feature_names"] == result.feature_names


def test_steps_export_their_own_weights(ours_exported) -> None:
    outputs = [
        tf.saved_model.load(ours_exported[step].path).signatures["serving_raw"](features=tf.constant(TEST_ROWS))
        for step in (100, 200)
    ]
    assert not np.allclose(outputs[0]["probabilities"].numpy(), outputs[1]["probabilities"].numpy())


def test_fingerprint_hashes_the_rewritten_saved_model(ours_exported, tmp_path: Path) -> None:
    """saved_model.pb is rewritten after the save (method names): its fingerprint must be written again."""
    copy = tmp_path / "copy"
    shutil.copytree(ours_exported[200].path, copy)
    (copy / "fingerprint.pb").unlink()
    fingerprinting_utils.write_fingerprint(str(copy))
    written = tf.saved_model.experimental.read_fingerprint(ours_exported[200].path)
    assert written == tf.saved_model.experimental.read_fingerprint(str(copy))


def test_estimator_checkpoint_exports_what_estimator_exported(tmp_path: Path) -> None:
    """Step 200 of the Estimator fixture: the same signatures and, for the example flowers, Estimator's outputs."""
    result = export(ESTIMATOR, out=tmp_path)
    assert result.step == 200 and result.feature_names == IRIS_FEATURES
    table = signature_table(Path(result.path))
    assert {name: table[name] for name in ESTIMATOR_SIGNATURES["signatures"]} == ESTIMATOR_SIGNATURES["signatures"]
    loaded = tf.saved_model.load(result.path)
    batch = examples(np.array(ESTIMATOR_OUTPUTS["features"], dtype=np.float32), ESTIMATOR_OUTPUTS["feature_names"])
    for name, reference in ESTIMATOR_OUTPUTS["signatures"].items():
        (key,) = loaded.signatures[name].structured_input_signature[1]
        got = export_module._plain(loaded.signatures[name](**{key: batch}))
        assert sorted(got) == sorted(reference)
        for output, values in reference.items():
            if isinstance(values[0][0], float):  # logits reach 8.5: one float32 ulp there is 9.5e-7
                tolerance = 1e-5 if output == "logits" else 1e-6
                np.testing.assert_allclose(got[output], values, atol=tolerance, rtol=0, err_msg=f"{name}/{output}")
            else:
                assert got[output] == values, f"{name}/{output}"
    assert not (ESTIMATOR / "export").exists()  # --out was given: the model_dir is untouched


def test_default_target_is_model_dir_export_and_the_scan_is_unchanged(ours: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in os.listdir(ours):
        if not (ours / name).is_dir():
            (model_dir / name).write_bytes((ours / name).read_bytes())
    before = scan(model_dir)
    first = export(model_dir, version=7)
    assert Path(first.path) == model_dir / "export" / "7"
    second = export(model_dir)  # Unix time: a fresh name
    assert int(Path(second.path).name) > 7
    after = scan(model_dir)
    assert [c.prefix for c in after.checkpoints] == [c.prefix for c in before.checkpoints]
    assert after.problems == before.problems
    assert sorted(os.listdir(model_dir / "export")) == sorted(["7", Path(second.path).name])  # no staging left


def test_the_20x20_estimator_fixture(tmp_path: Path) -> None:
    result = export(ESTIMATOR_20, 100, out=tmp_path, version=1)
    assert result.step == 100 and result.checked_on == "the test split of iris"
    raw = tf.saved_model.load(result.path).signatures["serving_raw"](features=tf.constant(TEST_ROWS))
    np.testing.assert_allclose(raw["probabilities"].numpy(), probabilities(ESTIMATOR_20, TEST_ROWS), atol=1e-6)


def test_a_tanh_network_on_a_csv_that_is_gone(tmp_path: Path) -> None:
    """The activation comes along into .keras; without the run's data the check runs on random rows, and says so."""
    csv = tmp_path / "flowers.csv"
    csv.write_bytes((Path(__file__).parents[2] / "resources" / "iris.csv").read_bytes())
    model_dir = tmp_path / "model"
    spec = RunSpec(
        network=NetworkConfig(steps=20, hidden_units=[6], activation="tanh"),
        schedule=ScheduleConfig(save_checkpoints_steps=20),
        data=DataConfig(source=str(csv)),
        model_dir=str(model_dir),
        seed=2,
    )
    Trainer(spec).run()
    csv.unlink()
    result = export(model_dir, fmt="keras", out=tmp_path / "out")
    assert result.checked_on == "random rows" and result.checked_rows == 32
    assert result.notes == [f"checked on 32 random rows: the run's data cannot be read ({csv}: no such file)"]
    assert keras.saving.load_model(result.path).get_layer("hiddenlayer_0").activation.__name__ == "tanh"


# .keras and .tflite ----------------------------------------------------------------------------------------


def test_keras_export_reloads_and_predicts_the_same(ours: Path, tmp_path: Path) -> None:
    result = export(ours, 100, "keras", tmp_path / "model.keras")
    assert result.path == str(tmp_path / "model.keras") and result.max_abs_difference <= 1e-6
    model = keras.saving.load_model(result.path)
    assert [layer.name for layer in model.layers] == [
        "features",
        "hiddenlayer_0",
        "hiddenlayer_1",
        "logits",
        "probabilities",
    ]
    expected = probabilities(ours, TEST_ROWS, 100)
    np.testing.assert_allclose(model.predict(TEST_ROWS, verbose=0), expected, atol=1e-6, rtol=0)
    assert os.listdir(tmp_path) == ["model.keras"]


def test_tflite_export_runs_in_the_interpreter(tmp_path: Path) -> None:
    result = export(ESTIMATOR, fmt="tflite", out=tmp_path, version=3)
    assert Path(result.path) == tmp_path / "3.tflite" and result.tolerance == 1e-5
    runner = tf.lite.Interpreter(model_path=result.path).get_signature_runner("serving_default")
    out = runner(features=TEST_ROWS)
    np.testing.assert_allclose(out["probabilities"], probabilities(ESTIMATOR, TEST_ROWS), atol=1e-5, rtol=0)
    assert sorted(out) == ["class_ids", "logits", "probabilities"]


# refusals and failures leave nothing -----------------------------------------------------------------------


def test_unknown_step_and_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(CheckpointError):
        export(ESTIMATOR, 150, out=out)
    for foreign in (KERAS, MANAGER):
        with pytest.raises(InferenceError, match="no DNN classifier"):
            export(foreign, out=out)
    with pytest.raises(ExportError, match="format 'onnx' is not known"):
        export(ESTIMATOR, fmt="onnx", out=out)
    with pytest.raises(ExportError, match="names the file already"):
        export(ESTIMATOR, fmt="keras", out=out / "model.keras", version=2)
    assert not out.exists()


def test_existing_target_is_kept_unless_forced(tmp_path: Path) -> None:
    first = export(ESTIMATOR, 100, out=tmp_path, version=1)
    stamp = (Path(first.path) / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(TargetExistsError) as caught:
        export(ESTIMATOR, 200, out=tmp_path, version=1)
    assert caught.value.target == tmp_path / "1"
    assert (Path(first.path) / "saved_model.pb").stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "1" / "assets.extra" / "ckptgui_export.json").read_text())["step"] == 100
    forced = export(ESTIMATOR, 200, out=tmp_path, version=1, force=True)
    assert json.loads((Path(forced.path) / "assets.extra" / "ckptgui_export.json").read_text())["step"] == 200
    assert os.listdir(tmp_path) == ["1"]


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="is a file"):
        export(ESTIMATOR, out=blocker)
    with pytest.raises(ExportError, match="cannot create"):
        export(ESTIMATOR, out=blocker / "inside")
    assert os.listdir(tmp_path) == ["taken"]


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create anything in (root ignores permission bits: sysfs refuses it too)."""
    if os.geteuid() == 0:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without sysfs")
        return Path("/sys")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    return locked


def test_read_only_target(tmp_path: Path) -> None:
    locked = unwritable_folder(tmp_path)
    before = os.listdir(locked)
    with pytest.raises(ExportError, match=r"cannot create .*ckptgui-export-test: (Permission denied|Operation not)"):
        export(ESTIMATOR, out=locked / "ckptgui-export-test")
    assert os.listdir(locked) == before


def test_failed_reload_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "_ckptgui_command", lambda: ["false"])
    with pytest.raises(VerificationError, match="could not be reloaded"):
        export(ESTIMATOR, out=tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []  # not even the folders it created


def test_different_numbers_are_not_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = export_module.check_main

    def off_by_a_little(fmt: str, path: str, request: str, answer: str) -> None:
        real(fmt, path, request, answer)
        outputs = json.loads(Path(answer).read_text())
        outputs["predict"]["probabilities"][0][0] += 1e-5
        Path(answer).write_text(json.dumps(outputs))

    def in_process(fmt: str, payload: Path, request: Path, answer: Path) -> None:
        off_by_a_little(fmt, str(payload), str(request), str(answer))

    monkeypatch.setattr(export_module, "_reload", in_process)
    with pytest.raises(VerificationError, match="predict: probabilities differ from ckptgui's by 1e-05"):
        export(ESTIMATOR, out=tmp_path)
    assert os.listdir(tmp_path) == []


def test_a_file_is_placed_without_hard_links_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload, target = tmp_path / "payload.keras", tmp_path / "model.keras"
    payload.write_bytes(b"new")
    target.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        export_module._place_file(payload, target)
    target.unlink()

    def no_links(source: object, destination: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    export_module._place_file(payload, target)
    assert target.read_bytes() == b"new" and not payload.exists()


@pytest.mark.skipif(os.name == "nt", reason="the stand-in app is a shell script")
def test_a_frozen_app_reloads_through_its_own_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyInstaller's app has no ``python -m``: the fresh process is the app itself, given the hidden command."""
    app = tmp_path / "ckptgui-app"
    package_root = Path(export_module.__file__).resolve().parents[2]
    app.write_text(f'#!/bin/sh\nPYTHONPATH="{package_root}" exec "{sys.executable}" -m ckptgui "$@"\n')
    app.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app))
    assert export_module._ckptgui_command() == [str(app)]
    result = export(ESTIMATOR, fmt="keras", out=tmp_path / "out")
    assert result.max_abs_difference <= 1e-6
