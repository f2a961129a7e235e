"""``ckptgui train``: progress and the model_dir on stdout, exit 2 with a message for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ckptgui.cli import main


def test_python_dash_m_trains_and_prints_the_model_dir(tmp_path):
    model_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ckptgui",
            "train",
            "--model-dir",
            str(model_dir),
            "--steps",
            "100",
            "--save-checkpoints-steps",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"model_dir: {model_dir}" in result.stdout
    assert "finished at step 100" in result.stdout
    assert sorted(p.name for p in model_dir.glob("*.index")) == [
        "model.ckpt-0.index",
        "model.ckpt-100.index",
        "model.ckpt-50.index",
    ]


def test_mirrored_over_two_logical_cpus_then_a_single_device_run_resumes_it(tmp_path, capsys):
    """A fresh process, as CPU devices can only be split before TensorFlow starts."""
    command = [sys.executable, "-m", "ckptgui", "train", "--model-dir", str(tmp_path), "--steps", "100", "--quiet"]
    mirrored = ["--distribution", "mirrored", "--devices", "CPU:0,CPU:1", "--batch-size", "50"]
    result = subprocess.run([*command, *mirrored], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "distribution: mirrored over CPU:0, CPU:1 (2 replicas)" in result.stdout
    assert "finished at step 100" in result.stdout
    assert main(["train", "--model-dir", str(tmp_path), "--steps", "50", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "training steps 100 -> 150, resuming from" in out and "distribution:" not in out


def test_train_twice_continues_the_global_step(tmp_path, capsys):
    args = ["train", "--model-dir", str(tmp_path), "--steps", "200", "--save-checkpoints-steps", "100", "--quiet"]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "training steps 200 -> 400, resuming from" in out
    assert "finished at step 400" in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hidden-units", "10,x"], 'hidden_units: "10,x" is not a list of positive integers'),
        (["--optimizer", "Lion"], 'optimizer: "Lion" is not allowed; expected one of Adagrad, SGD, Adam, RMSprop'),
        (["--keep-checkpoint-max", "-2"], "keep_checkpoint_max: -2 is not allowed"),
        (["--data", "/no/such/file.csv"], "/no/such/file.csv: no such file"),
        (["--devices", "GPU:0"], "devices: default takes no device list"),
        (["--distribution", "mirrored", "--devices", "GPU0"], 'devices: "GPU0" is not a list of device names'),
        (["--distribution", "one_device", "--devices", "GPU:7"], "GPU:7: not a device TensorFlow sees here"),
        (["--distribution", "multi_worker"], "multi_worker reads its cluster from TF_CONFIG, which is not set"),
    ],
)
def test_bad_input_exits_2_with_the_message_on_stderr(tmp_path, capsys, flags, message):
    assert main(["train", "--model-dir", str(tmp_path / "d"), "--steps", "10", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ckptgui train: ") and message in err
    assert not list((tmp_path).glob("d/model.ckpt-*"))


def test_mutually_exclusive_schedule_flags_are_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--save-checkpoints-steps", "5", "--save-checkpoints-secs", "5"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_an_incompatible_network_exits_3_naming_both_shapes(tmp_path, capsys):
    assert main(["train", "--model-dir", str(tmp_path), "--steps", "10", "--quiet"]) == 0
    assert main(["train", "--model-dir", str(tmp_path), "--steps", "10", "--hidden-units", "20,20"]) == 3
    err = capsys.readouterr().err
    assert "dnn/hiddenlayer_0/kernel: checkpoint [4, 10], config [4, 20]" in err


@pytest.mark.slow
def test_a_second_train_continues_with_the_stored_spec_and_says_which_values_it_took(tmp_path, capsys):
    first = ["--hidden-units", "20,20", "--optimizer", "adam", "--steps", "40", "--save-checkpoints-steps", "20"]
    assert main(["train", "--model-dir", str(tmp_path), *first, "--quiet"]) == 0
    assert "from the spec stored" not in capsys.readouterr().out
    assert main(["train", "--model-dir", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "training steps 40 -> 80, resuming from" in out
    taken = "from the spec stored in the model_dir: --hidden-units 20,20 --optimizer Adam --steps 40"
    assert f"{taken} --save-checkpoints-steps 20" in out.splitlines()
    assert {20, 40, 60, 80} <= {int(p.name.split("-")[1].split(".")[0]) for p in tmp_path.glob("model.ckpt-*.index")}
    assert main(["train", "--model-dir", str(tmp_path), "--steps", "10", "--save-checkpoints-secs", "600"]) == 0
    out = capsys.readouterr().out
    assert "training steps 80 -> 90, resuming from" in out
    line = next(line for line in out.splitlines() if line.startswith("from the spec stored"))
    assert line == "from the spec stored in the model_dir: --hidden-units 20,20 --optimizer Adam"
    spec = json.loads((tmp_path / "ckptgui_run.json").read_text())["spec"]
    assert (spec["network"]["steps"], spec["schedule"]["save_checkpoints_steps"]) == (10, None)
