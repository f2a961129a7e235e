"""The CLI on model_dirs other tools wrote (tests/fixtures/keras_cases/), and on a reader that goes away."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ckptgui.cli import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, main

CASES = Path(__file__).parents[1] / "fixtures" / "keras_cases"
ROOT = Path(__file__).parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_output_into_a_closed_pipe_exits_quietly() -> None:
    """``ckptgui inspect DIR | head -1``: the reader is gone before the report is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # head -1 has read its line and left
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ckptgui", "inspect", str(CASES / "tf1_adagrad")],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        env=env,
    )
    os.close(write_end)
    assert done.returncode == EXIT_BROKEN_PIPE
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_inspect_shows_keras_zips_and_backups(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", CASES / "towers" / "towers.keras", "--json")
    data = json.loads(out)
    assert code == 0 and data["global_step"] == 2
    names = [v["name"] for v in data["variables"]]
    assert "tower_a/proj/kernel" in names and "tower_b/proj/kernel" in names
    code, out, _ = run(capsys, "inspect", CASES / "backup")
    assert code == 0 and "latest.weights.h5" in out
    assert out.splitlines()[1].endswith("restore step: 2")


def test_v1_checkpoints_say_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", CASES / "v1")
    assert code == 0 and "unsupported" in out and "missing" not in out


@pytest.mark.parametrize("command", [["eval"], ["predict", "--features", "1,2,3,4"]])
def test_eval_and_predict_refuse_a_wide_and_deep_checkpoint(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, err = run(capsys, command[0], CASES / "wide_deep", *command[1:])
    assert code == EXIT_BAD_INPUT and out == ""
    assert "linear/linear_model/features/weights" in err and "outside the DNN" in err


def test_eval_still_reads_a_plain_tf1_dnn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", CASES / "tf1_adagrad", "--json")
    assert code == 0 and json.loads(out)["step"] == 500


def test_verify_does_not_call_an_unsupported_format_damage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "verify", CASES / "v1")
    assert code == EXIT_BAD_INPUT and out == ""
    assert "no checkpoints ckptgui can verify" in err and "V1" in err
    mixed = tmp_path / "mixed"
    shutil.copytree(CASES / "v1", mixed)
    for name in ("model.ckpt-500.index", "model.ckpt-500.data-00000-of-00001"):
        shutil.copy(CASES / "tf1_adagrad" / name, mixed / name)
    code, out, _ = run(capsys, "verify", mixed)
    assert code == 0
    assert out.splitlines()[-1] == "1 checkpoints ok, 2 not read (unsupported format)"


def test_reading_keras_files_v1_and_backups_needs_no_tensorflow() -> None:
    paths = [str(CASES / p) for p in ("towers/towers.keras", "towers", "backup", "v1", "subclassed/ckpt-1")]
    code = (
        "import sys; from ckptgui.cli import main; "
        f"codes = [main(['inspect', p, '--json']) for p in {paths!r}]; "
        f"codes.append(main(['verify', {str(CASES / 'towers')!r}])); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; print(codes, file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[0, 0, 0, 0, 0, 0]"


def test_inspect_names_the_weights_outside_the_dnn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", CASES / "wide_deep", "--json")
    linear = ["linear/linear_model/bias_weights", "linear/linear_model/features/weights"]
    assert code == 0 and sorted(json.loads(out)["network"]["outside_dnn"]) == linear
    code, out, _ = run(capsys, "inspect", CASES / "wide_deep")
    assert "2 weights outside the DNN" in next(line for line in out.splitlines() if line.startswith("network:"))
