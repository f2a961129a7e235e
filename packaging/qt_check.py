#!/usr/bin/env python3
"""Does Qt's platform plugin load here? ``./dev`` asks this before it opens the window.

``from PySide6 import QtWidgets`` succeeds without the platform plugin: Qt loads ``libqxcb.so`` only when the
QApplication starts, and then aborts with "Could not load the Qt platform plugin". So this script asks the two
things that decide it: ``ldd`` on the xcb plugin the user will get (every shared library it needs that the system
lacks, named as the Debian/Ubuntu package that ships it), and, with a display, a QApplication started in a
subprocess (Qt's own word on whatever else is wrong).

    qt_check.py                  exit 0: the plugin loads; 1: libraries are missing (stdout: the Debian packages
                                 that ship them, stderr: what is missing); 2: the plugin does not load for another
                                 reason (stderr: Qt's message)
    qt_check.py --debs           print every Debian package the xcb plugin needs (what ./dev installs)
    --plugins DIR                a Qt plugins folder instead of PySide6's own (its platforms/libqxcb.so is checked)

Stdlib only: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

# What `ldd` lists for PySide6 6.7-6.11's libqxcb.so on Debian 12 / Ubuntu 22.04+, by the package that ships it
# (`dpkg -S`). Qt's own libraries come with PySide6; the C/C++ runtime is on every system.
DEBIAN_PACKAGES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}
# Not a library the plugin links, but without any font Qt draws no text.
EXTRA_PACKAGES = ("fonts-dejavu-core",)
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
# Started in a fresh process; an argument replaces Qt's plugin folders (else Qt would fall back to PySide6's own).
QT_START = """
import sys
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication
if len(sys.argv) > 1:
    QCoreApplication.setLibraryPaths(sys.argv[1:])
app = QApplication(["qt_check"])
print(app.platformName())
"""


def all_packages() -> list[str]:
    """Every Debian package the xcb platform plugin needs, sorted, once each."""
    return sorted({*DEBIAN_PACKAGES.values(), *EXTRA_PACKAGES})


def pyside_plugins() -> Path | None:
    """PySide6's Qt plugins folder, found without importing Qt (which is what may not load)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins"


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries ``plugin`` needs that the dynamic loader cannot find (``ldd``'s "not found")."""
    result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=60, check=False)
    return sorted(set(NOT_FOUND.findall(result.stdout)))


def packages_for(libraries: list[str]) -> tuple[list[str], list[str]]:
    """(Debian packages that ship ``libraries``, the libraries no known package ships)."""
    known = sorted({DEBIAN_PACKAGES[name] for name in libraries if name in DEBIAN_PACKAGES})
    return known, [name for name in libraries if name not in DEBIAN_PACKAGES]


def start_error(plugins: Path | None, timeout: float = 60) -> str | None:
    """Qt's message when a QApplication cannot start on this display in a fresh process, None when it starts."""
    command = [sys.executable, "-c", QT_START, *([] if plugins is None else [str(plugins)])]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"a QApplication did not start within {timeout:.0f} s"
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return "\n".join(lines[-6:]) or f"a QApplication exited with status {result.returncode}"


def check(plugins: Path | None) -> int:
    """Report on stderr what keeps the platform plugin from loading; the exit status the module doc describes."""
    folder = plugins or pyside_plugins()
    if folder is None:
        print("PySide6 is not installed in this Python.", file=sys.stderr)
        return 2
    plugin = folder / "platforms" / "libqxcb.so"
    if sys.platform.startswith("linux") and plugin.exists():
        missing = missing_libraries(plugin)
        if missing:
            packages, unknown = packages_for(missing)
            print(f"Qt's xcb platform plugin ({plugin}) cannot load: missing {', '.join(missing)}.", file=sys.stderr)
            if packages:
                print(f"On Debian/Ubuntu: sudo apt-get install {' '.join(packages)}", file=sys.stderr)
            if unknown:
                print(f"No known Debian package ships {', '.join(unknown)}.", file=sys.stderr)
            print(" ".join(packages))
            return 1
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        error = start_error(plugins)
        if error is not None:
            print(f"Qt cannot open a window on this display:\n{error}", file=sys.stderr)
            if "could not connect to display" in error:
                print(
                    f"No X server answers on DISPLAY={os.environ.get('DISPLAY', '')}: start one or correct DISPLAY, "
                    "or run with QT_QPA_PLATFORM=offscreen (Qt's hint about libxcb-cursor0 does not apply then).",
                    file=sys.stderr,
                )
            return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debs", action="store_true", help="print every Debian package the xcb plugin needs")
    parser.add_argument("--plugins", type=Path, help="a Qt plugins folder to check instead of PySide6's")
    args = parser.parse_args(argv)
    if args.debs:
        print(" ".join(all_packages()))
        return 0
    return check(args.plugins)


if __name__ == "__main__":
    sys.exit(main())
