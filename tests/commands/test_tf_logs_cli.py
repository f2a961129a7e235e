"""TensorFlow's C++ log noise stays off the console of every command that loads it (ckptgui/native_logs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ckptgui import native_logs

ROOT = Path(__file__).resolve().parents[2]
ESTIMATOR = ROOT / "tests" / "fixtures" / "estimator_dnn_iris"


@pytest.mark.slow
def test_a_command_that_loads_tensorflow_prints_only_its_own_output():
    env = {k: v for k, v in os.environ.items() if k != native_logs.LEVEL_VARIABLE}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "ckptgui", "eval", str(ESTIMATOR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    assert result.stderr == ""


def test_the_filter_drops_absl_lines_written_to_the_file_descriptor_and_keeps_the_rest(capfd):
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796164116.209380   23773 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
        "W1201 12:00:00.000001    123 port.cc:9] something\n"
    )
    with native_logs.native_stderr_filtered():
        os.write(2, (noise + "a real problem\n").encode())
    assert capfd.readouterr().err == "a real problem\n"


def test_a_level_the_user_chose_is_left_alone(monkeypatch):
    monkeypatch.setenv(native_logs.LEVEL_VARIABLE, "0")
    before = list(sys.meta_path)
    native_logs.silence_tensorflow()
    assert os.environ[native_logs.LEVEL_VARIABLE] == "0"
    assert sys.meta_path == before
