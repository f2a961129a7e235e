"""The inspect / verify / diff / check / eval / predict subcommands: JSON shapes, exit codes, messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from checkpoint_dirs import count_listings

from ckptgui.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
ESTIMATOR = FIXTURES / "estimator_dnn_iris"
EXPECTED = json.loads((ESTIMATOR / "expected.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, dict]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


@pytest.fixture
def estimator_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "estimator"
    shutil.copytree(ESTIMATOR, copy)
    return copy


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "inspect", ESTIMATOR)
    assert code == 0
    assert data["format"] == "tf1-name"
    assert data["latest_step"] == 200 and data["restore_step"] == 200
    assert [(c["step"], c["status"], Path(c["prefix"]).name) for c in data["checkpoints"]] == [
        (0, "ok", "model.ckpt-0"),
        (100, "ok", "model.ckpt-100"),
        (200, "ok", "model.ckpt-200"),
    ]
    network = {"hidden_units": [10, 10], "n_features": 4, "n_classes": 3, "optimizer": "Adagrad", "outside_dnn": []}
    assert data["network"] == network
    assert data["global_step"] == 200
    variables = {v["name"]: v for v in data["variables"]}
    assert variables["dnn/hiddenlayer_0/kernel"]["shape"] == [4, 10]
    assert variables["dnn/hiddenlayer_0/kernel"]["dtype"] == "float32"
    assert variables["dnn/hiddenlayer_0/kernel"]["slots"]["accumulator"]["shape"] == [4, 10]
    assert data["event_runs"] == [".", "eval"]


def test_inspect_one_step_and_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "inspect", f"{ESTIMATOR}@100")
    assert code == 0
    assert [c["step"] for c in data["checkpoints"]] == [100]
    assert data["selected"].endswith("model.ckpt-100") and data["global_step"] == 100
    code, out, _ = run(capsys, "inspect", ESTIMATOR)
    assert code == 0
    assert "network: hidden_units [10, 10], 4 features, 3 classes, optimizer Adagrad" in out
    assert any(line.split()[:3] == ["dnn/hiddenlayer_0/kernel", "[4,", "10]"] for line in out.splitlines())
    assert any(line.split()[:2] == ["200", "ok"] for line in out.splitlines())


def test_inspect_lists_the_model_dir_once(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """One scan serves the table, the variables and the global step of the chosen checkpoint."""
    listed = count_listings(monkeypatch)
    code, data = run_json(capsys, "inspect", ESTIMATOR)
    assert code == 0 and data["global_step"] == 200 and data["variables"]
    assert listed.count(str(ESTIMATOR)) == 1


@pytest.mark.parametrize(
    "command", [["inspect", "--json"], ["verify", "--json"], ["check", "--hidden-units", "10,10", "--json"]]
)
def test_inspect_verify_and_check_do_not_import_tensorflow(command: list[str]) -> None:
    """They read checkpoints with our own readers (verify checks every CRC itself): no TensorFlow import."""
    code = (
        "import sys, io, contextlib; from ckptgui.cli import main; out = io.StringIO()\n"
        f"with contextlib.redirect_stdout(out): rc = main([{command[0]!r}, {str(ESTIMATOR)!r}, *{command[1:]!r}])\n"
        "assert rc == 0 and 'tensorflow' not in sys.modules, sorted(m for m in sys.modules if 'tensorflow' in m)[:3]"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_verify_exit_codes(capsys: pytest.CaptureFixture[str], estimator_copy: Path) -> None:
    code, data = run_json(capsys, "verify", estimator_copy)
    assert code == 0
    assert data["ok"] is True
    assert [(c["step"], c["status"], c["reason"]) for c in data["checkpoints"]] == [
        (0, "ok", ""),
        (100, "ok", ""),
        (200, "ok", ""),
    ]
    data_file = estimator_copy / "model.ckpt-100.data-00000-of-00001"
    damaged = bytearray(data_file.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    data_file.write_bytes(bytes(damaged))
    code, data = run_json(capsys, "verify", estimator_copy)
    assert code == 1
    statuses = {c["step"]: (c["status"], c["reason"]) for c in data["checkpoints"]}
    assert statuses[100][0] == "corrupt" and "checksum does not match" in statuses[100][1]
    assert statuses[0] == statuses[200] == ("ok", "")
    code, out, _ = run(capsys, "verify", estimator_copy)
    assert code == 1
    assert out.splitlines()[-1] == "3 checkpoints, 1 damaged"


def test_verify_of_an_empty_folder_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "verify", tmp_path)
    assert out == ""
    assert code == 2
    assert err.strip() == f"ckptgui verify: {tmp_path}: holds no checkpoints to verify"


def test_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", ESTIMATOR)
    assert code == 0
    assert data["compatible"] is True and data["mismatches"] == []
    code, data = run_json(capsys, "check", ESTIMATOR, "--hidden-units", "20,20")
    assert code == 3
    assert data["compatible"] is False
    assert data["summary"] == "checkpoint was trained with hidden_units [10, 10]; this config has [20, 20]"
    first = data["mismatches"][0]
    assert (first["variable"], first["expected"], first["found"], first["kind"]) == (
        "dnn/hiddenlayer_0/kernel",
        [4, 20],
        [4, 10],
        "shape",
    )
    code, out, _ = run(capsys, "check", ESTIMATOR, "--hidden-units", "20,20")
    assert code == 3
    assert "  dnn/hiddenlayer_0/kernel: checkpoint [4, 10], config [4, 20]" in out.splitlines()
    assert "ways out:" in out
    code, _, err = run(capsys, "check", ESTIMATOR, "--hidden-units", "ten")
    assert code == 2
    assert "hidden_units" in err


def test_diff_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "diff", f"{ESTIMATOR}@0", f"{ESTIMATOR}@200")
    assert code == 0
    rows = {v["name"]: v for v in data["variables"]}
    kernel = rows["dnn/logits/kernel"]
    assert kernel["shape_a"] == kernel["shape_b"] == [10, 3]
    assert kernel["delta_l2"] > 0 and kernel["max_abs_delta"] > 0
    assert rows["global_step"]["delta_l2"] == 200
    assert data["summary"].startswith(f"{len(rows)} of {len(rows)} tensors compared")


def test_eval_defaults_to_the_test_split_as_estimator_and_the_window_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = EXPECTED["evaluate_by_step"]["100"]["test_30"]
    code, data = run_json(capsys, "eval", ESTIMATOR, "--step", "100")
    assert (code, data["split"], data["examples"]) == (0, "test", 30)
    assert data["loss"] == pytest.approx(expected["average_loss"], abs=1e-5)
    from ckptgui.gui.engine import evaluate_on_test  # what the window's Evaluate runs

    window = evaluate_on_test(f"{ESTIMATOR}/model.ckpt-100", None)
    assert (window.split, window.examples, window.loss) == ("test", 30, pytest.approx(data["loss"]))
    code, out, _ = run(capsys, "eval", ESTIMATOR, "--step", "100")
    assert out.splitlines()[0].endswith("(step 100) on iris, the test split")
    assert "--split" in main_help(capsys, "eval") and "(default)" in main_help(capsys, "eval")


def main_help(capsys: pytest.CaptureFixture[str], command: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_check_help_lists_only_the_flags_that_decide_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    text = main_help(capsys, "check")
    for flag in ("--hidden-units", "--n-classes", "--activation", "--optimizer", "--data", "--label-column"):
        assert flag in text
    for flag in ("--steps", "--batch-size", "--learning-rate", "--dropout", "--save-checkpoints-steps", "--seed"):
        assert flag not in text


@pytest.mark.parametrize("command", ["pin", "unpin", "clean"])
def test_every_argument_of_pin_unpin_and_clean_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = main_help(capsys, command)
    positionals = text.split("positional arguments:")[1].split("options:")[0]
    lines = [line.split(None, 1) for line in positionals.strip().splitlines()]
    assert [line[0] for line in lines] == (["model_dir"] if command == "clean" else ["model_dir", "step"])
    assert all(len(line) == 2 and len(line[1]) > 10 for line in lines)


def test_check_takes_the_optimizer_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", ESTIMATOR, "--optimizer", "adam", "--activation", "RELU")
    assert code == 0
    assert any("this config uses Adam" in note for note in data["notes"])
    code, _, err = run(capsys, "check", ESTIMATOR, "--optimizer", "adamw")
    assert code == 2
    assert "expected one of Adagrad, SGD, Adam, RMSprop" in err


def test_sizes_read_in_binary_units_as_in_the_window(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", ESTIMATOR)
    assert code == 0
    sizes = [line.split()[2:4] for line in out.splitlines() if line.split()[:2] in (["0", "ok"], ["200", "ok"])]
    assert sizes and all(unit == "KiB" for _, unit in sizes)
    assert " KB" not in out and " MB" not in out


def test_eval_json_matches_estimator(capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECTED["evaluate_by_step"]["100"]["all_150_one_batch"]
    for argv in (["eval", ESTIMATOR, "--step", "100"], ["eval", f"{ESTIMATOR}@100", "--data", "iris"]):
        argv = [*argv, "--split", "all"]
        code, data = run_json(capsys, *argv)
        assert code == 0
        assert (data["step"], data["examples"]) == (100, 150)
        assert data["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-5)
        assert data["loss"] == pytest.approx(expected["average_loss"], abs=1e-5)


def test_predict_json(capsys: pytest.CaptureFixture[str]) -> None:
    flowers = EXPECTED["predict_latest"]
    rows = [",".join(str(v) for v in row) for row in flowers["features"]]
    code, data = run_json(capsys, "predict", ESTIMATOR, *[a for row in rows for a in ("--features", row)])
    assert code == 0
    assert data["step"] == 200
    assert data["feature_names"] == ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]
    assert [p["class_name"] for p in data["predictions"]] == flowers["classes"]
    assert data["predictions"][0]["probabilities"] == pytest.approx(flowers["probabilities"][0], abs=1e-5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "{tmp}/nowhere"], "{tmp}/nowhere: no such file or directory"),
        (["inspect", "{est}/graph.pbtxt"], "not a checkpoint"),
        (["diff", "{est}@5", "{est}@200"], "no checkpoint for step 5; the steps here are: 0, 100, 200"),
        (["eval", "{est}", "--step", "7"], "no checkpoint for step 7"),
        (["eval", "{est}", "--data", "{tmp}/missing.csv"], "{tmp}/missing.csv: no such file"),
        (["predict", "{est}", "--features", "5.1,x"], "--features '5.1,x': expected comma-separated numbers"),
        (["predict", "{est}", "--features", "5.1,3.3"], "each row needs 4 numbers"),
        (["eval", "{fx}/tf2_manager"], "holds no DNN classifier"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    fill = {"tmp": tmp_path, "est": ESTIMATOR, "fx": FIXTURES}
    code, out, err = run(capsys, *[a.format(**fill) for a in argv])
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"ckptgui {argv[0]}: ")
    assert message.format(**fill) in err
