"""Ctrl+E exports the plots while a text field has focus, on a real X display where the field binds Ctrl+E."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("xcb_shortcut_check.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt-get install xvfb) for a real X display")
def test_ctrl_e_exports_from_a_focused_text_field_under_x11():
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["xvfb-run", "-a", sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert "platform xcb" in out and "'Ctrl+E'" in out, out  # the field really binds Ctrl+E here
    assert "focus True" in out, out
    assert "opened ['Export plots']" in out, out
