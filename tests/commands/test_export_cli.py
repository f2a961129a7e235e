"""``ckptgui export``: the report, the JSON, and exit 2 (bad input) or 1 (not verified) with nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR, KERAS, MANAGER

from ckptgui.cli import main
from ckptgui.engine import export as export_module


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "export", ESTIMATOR, "--step", 100, "--out", tmp_path, "--model-version", 5, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["path"] == str(tmp_path / "5") and data["format"] == "savedmodel"
    assert data["step"] == 100 and data["prefix"].endswith("model.ckpt-100")
    assert data["signatures"] == ["serving_default", "classification", "predict", "serving_raw"]
    assert data["feature_names"] == ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]
    assert data["class_names"] == ["setosa", "versicolor", "virginica"]
    assert data["checked_rows"] == 30 and data["max_abs_difference"] <= data["tolerance"] == 1e-6
    assert sorted(os.listdir(tmp_path / "5")) == [
        "assets",
        "assets.extra",
        "fingerprint.pb",
        "saved_model.pb",
        "variables",
    ]


def test_export_report_for_keras(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "export", f"{ESTIMATOR}@200", "--format", "keras", "--out", tmp_path / "iris.keras")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"exported {ESTIMATOR}/model.ckpt-200 (step 200) as keras: {tmp_path / 'iris.keras'}"
    assert lines[1] == "features: SepalLength, SepalWidth, PetalLength, PetalWidth"
    assert lines[2] == "classes: 0 setosa, 1 versicolor, 2 virginica"
    assert lines[3].startswith("verified in a fresh process on 30 rows (the test split of iris): max |p - ckptgui's| ")
    assert os.listdir(tmp_path) == ["iris.keras"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--step", "150"], "no checkpoint"),
        (["--format", "onnx"], None),  # argparse
        (["--model-version", "-1"], "version -1 is negative"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str | None
) -> None:
    out = tmp_path / "out"
    if message is None:
        with pytest.raises(SystemExit) as caught:
            main(["export", str(ESTIMATOR), "--out", str(out), *argv])
        assert caught.value.code == 2
    else:
        code, stdout, err = run(capsys, "export", ESTIMATOR, "--out", out, *argv)
        assert code == 2 and stdout == ""
        assert err.startswith("ckptgui export: ") and message in err.lower()
    assert not out.exists()


@pytest.mark.parametrize("foreign", [KERAS, MANAGER, KERAS / "weights.02.weights.h5"], ids=["keras", "tf2", "h5"])
def test_a_checkpoint_without_a_dnn_classifier(capsys: pytest.CaptureFixture[str], tmp_path: Path, foreign) -> None:
    code, stdout, err = run(capsys, "export", foreign, "--out", tmp_path / "out")
    assert code == 2 and stdout == ""
    assert "holds no DNN classifier" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_existing_target_needs_force(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "iris.tflite"
    target.write_bytes(b"someone else's model")
    code, _, err = run(capsys, "export", ESTIMATOR, "--format", "tflite", "--out", target)
    assert code == 2
    assert err == f"ckptgui export: {target} already exists; --force replaces it\n"
    assert target.read_bytes() == b"someone else's model"
    code, _, _ = run(capsys, "export", ESTIMATOR, "--format", "tflite", "--out", target, "--force")
    assert code == 0 and target.read_bytes()[4:8] == b"TFL3"  # the FlatBuffer identifier
    assert os.listdir(tmp_path) == ["iris.tflite"]


def test_an_export_that_does_not_reload_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "_ckptgui_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    code, stdout, err = run(capsys, "export", ESTIMATOR, "--out", tmp_path / "out")
    assert code == 1 and stdout == ""
    assert err.startswith("ckptgui export: not exported: the export could not be reloaded")
    assert not (tmp_path / "out").exists()


def test_the_check_command_is_not_in_the_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ckptgui", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert " export " in done.stdout and "export-check" not in done.stdout
