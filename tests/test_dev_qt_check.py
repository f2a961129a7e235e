"""packaging/qt_check.py, what ``./dev`` asks before opening the window: does Qt's platform plugin load here?

Each case runs the script as ./dev does, on a real copy of PySide6's xcb plugin: one whose NEEDED entry names a
library the system lacks, one that is damaged, and the real one on a real X server (Xvfb).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "packaging" / "qt_check.py"
_spec = importlib.util.spec_from_file_location("qt_check", SCRIPT)
qt_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qt_check)

PLUGINS = qt_check.pyside_plugins()
XCB = PLUGINS / "platforms" / "libqxcb.so"
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")


def run_check(*args: str, display: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    if display is not None:
        env["DISPLAY"] = display
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def plugins_copy(tmp_path: Path, plugin: bytes) -> Path:
    """A plugins folder holding ``plugin`` as platforms/libqxcb.so, beside PySide6's Qt libraries (its RUNPATH)."""
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").symlink_to(PLUGINS.parent / "lib")
    (qt / "plugins" / "platforms" / "libqxcb.so").write_bytes(plugin)
    return qt / "plugins"


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A real X server on a display number it picks itself; yields the DISPLAY value."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (./dev test installs it where apt-get can)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        display = pipe.readline().strip()
    try:
        assert display, "Xvfb did not report its display"
        yield f":{display}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@LINUX_ONLY
def test_a_plugin_whose_library_is_missing_is_reported_with_exit_1(tmp_path):
    original = XCB.read_bytes()
    assert original.count(b"libxcb-icccm.so.4\0") == 1
    # The same NEEDED entry, renamed to a library no system has: the loader cannot find it, as on a bare desktop.
    plugins = plugins_copy(tmp_path, original.replace(b"libxcb-icccm.so.4\0", b"libxcb-icccm.so.7\0"))
    result = run_check("--plugins", str(plugins))
    assert result.returncode == 1
    assert "missing libxcb-icccm.so.7" in result.stderr
    assert "No known Debian package ships libxcb-icccm.so.7" in result.stderr


@LINUX_ONLY
def test_missing_libraries_are_named_as_the_debian_packages_that_ship_them():
    assert qt_check.packages_for(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libfoo.so.1"]) == (
        ["libxcb-icccm4", "libxcb-keysyms1"],
        ["libfoo.so.1"],
    )


@LINUX_ONLY
def test_every_system_library_the_real_plugin_links_has_its_package_in_the_install_set():
    listing = subprocess.run(["ldd", str(XCB)], capture_output=True, text=True, check=True).stdout
    system = {name for name, path in re.findall(r"^\s*(\S+) => (\S+)", listing, re.MULTILINE) if "PySide6" not in path}
    runtime = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2"}
    direct = {name for name in system - runtime if name.startswith(("libxcb", "libX", "libxkb", "libGL", "libEGL"))}
    assert direct <= set(qt_check.DEBIAN_PACKAGES)
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0"} <= set(qt_check.all_packages())
    assert run_check("--debs").stdout.split() == qt_check.all_packages()


@LINUX_ONLY
def test_a_plugin_that_qt_cannot_load_fails_the_check_with_qts_message(tmp_path, xvfb):
    damaged = XCB.read_bytes()[:2048]  # an ELF header whose sections are cut off: ldd finds nothing missing
    result = run_check("--plugins", str(plugins_copy(tmp_path, damaged)), display=xvfb)
    assert result.returncode == 2
    assert "Qt cannot open a window on this display" in result.stderr
    assert 'Qt platform plugin "xcb"' in result.stderr


@LINUX_ONLY
def test_the_real_plugin_opens_on_a_real_x_server(xvfb):
    result = run_check(display=xvfb)
    assert (result.returncode, result.stderr) == (0, "")


@LINUX_ONLY
def test_a_display_without_an_x_server_is_named_as_such():
    free = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    result = run_check(display=f":{free}")
    assert result.returncode == 2
    assert f"No X server answers on DISPLAY=:{free}" in result.stderr
