"""Packaging: icons, desktop entry, PyInstaller spec, installer scripts and the wheel agree with each other.

The builds themselves run in packaging/ci_wheel_selftest.sh (wheel in a fresh venv) and
packaging/build_linux.sh (frozen bundle); these checks are the fast part, plus one slow wheel build.
"""

from __future__ import annotations

import ast
import configparser
import re
import struct
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import ckptgui
from ckptgui._resources import resource_files
from ckptgui.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def png_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR; fails on anything that is not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


# --- icons -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", PNG_SIZES)
def test_app_icon_png_has_its_size_and_alpha(size: int) -> None:
    assert png_size((ICONS / f"ckptgui-{size}.png").read_bytes()) == (size, size, 6)  # 6: RGBA


def test_ico_holds_png_entries_16_to_256() -> None:
    data = (PACKAGING / "icons" / "ckptgui.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, height, _, _, planes, bits, length, offset = struct.unpack("<BBBBHHII", data[6 + 16 * i : 22 + 16 * i])
        entry = width or 256, height or 256
        assert (planes, bits) == (1, 32)
        assert offset + length <= len(data)
        assert png_size(data[offset : offset + length])[:2] == entry
        sizes.append(entry[0])
    assert sorted(sizes) == [16, 32, 48, 64, 128, 256]


def test_icns_holds_retina_sizes_up_to_1024() -> None:
    data = (PACKAGING / "icons" / "ckptgui.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    found, pos = {}, 8
    while pos < len(data):
        kind, length = struct.unpack(">4sI", data[pos : pos + 8])
        found[kind.decode()] = png_size(data[pos + 8 : pos + length])[0]
        pos += length
    assert pos == len(data)
    assert found == {
        "icp4": 16, "icp5": 32, "ic11": 32, "ic12": 64, "ic07": 128,
        "ic13": 256, "ic08": 256, "ic14": 512, "ic09": 512, "ic10": 1024,
    }  # fmt: skip


def test_raster_icons_are_rendered_from_the_svg() -> None:
    """make_icons.py --check re-renders the SVG with Qt and compares byte for byte with the committed files."""
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "make_icons.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- desktop entry -------------------------------------------------------------------------------------------------

DESKTOP_KEYS = {  # Desktop Entry Specification 1.4, keys valid for Type=Application
    "Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden", "OnlyShowIn", "NotShowIn",
    "DBusActivatable", "TryExec", "Exec", "Path", "Terminal", "Actions", "MimeType", "Categories", "Implements",
    "Keywords", "StartupNotify", "StartupWMClass", "PrefersNonDefaultGPU", "SingleMainWindow",
}  # fmt: skip
MAIN_CATEGORIES = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office", "Science",
    "Settings", "System", "Utility",
}  # fmt: skip


def test_desktop_entry_is_valid_and_names_our_command_and_icon() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string((ROOT / "resources" / "ckptgui.desktop").read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    entry = dict(parser["Desktop Entry"])
    assert set(entry) <= DESKTOP_KEYS, set(entry) - DESKTOP_KEYS
    assert entry["Type"] == "Application"
    assert entry["Version"] == "1.4"
    assert entry["Name"] == "ckptgui"
    command = next(iter(PYPROJECT["project"]["scripts"]))
    assert entry["Exec"].split()[0] == entry["TryExec"] == command
    assert entry["Icon"] == "ckptgui"  # install.sh installs ckptgui.png into every hicolor size
    for key in ("Terminal", "StartupNotify"):
        assert entry[key] in ("true", "false")
    for key in ("Categories", "Keywords"):
        assert entry[key].endswith(";")
    assert MAIN_CATEGORIES & set(entry["Categories"].split(";"))


def test_install_script_installs_every_icon_size_that_exists() -> None:
    script = (PACKAGING / "linux" / "install.sh").read_text()
    sizes = re.search(r'^SIZES="([\d ]+)"$', script, re.MULTILINE)
    assert sizes is not None
    assert tuple(int(s) for s in sizes.group(1).split()) == PNG_SIZES


@pytest.mark.parametrize(
    "script",
    ["build_linux.sh", "freeze.sh", "ci_wheel_selftest.sh", "linux/install.sh", "linux/AppRun", "macos/make_dmg.sh"],
)
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = PACKAGING / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --- PyInstaller spec and installers ------------------------------------------------------------------------------


def _spec_paths() -> list[Path]:
    """Every path the spec builds as ``ROOT / ...`` or ``ICONS / ...`` (both branches of a conditional)."""
    tree = ast.parse((PACKAGING / "ckptgui.spec").read_text())
    names = {"ROOT": ROOT, "ICONS": ROOT / "packaging" / "icons"}

    def values(node: ast.expr) -> list[Path | str] | None:
        if isinstance(node, ast.Name) and node.id in names:
            return [names[node.id]]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            both = (values(node.body) or []) + (values(node.orelse) or [])
            return both or None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = values(node.left), values(node.right)
            if left and right and all(isinstance(v, Path) for v in left):
                return [v / w for v in left for w in right]
        return None

    paths: list[Path] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            paths += [p for p in values(node) or [] if isinstance(p, Path)]
    return paths


def test_spec_references_only_files_that_exist() -> None:
    paths = _spec_paths()
    expected = {
        ROOT / "ckptgui" / "__main__.py",
        ROOT / "resources",
        ROOT / "packaging" / "icons" / "ckptgui.ico",
        ROOT / "packaging" / "icons" / "ckptgui.icns",
    }
    assert expected <= set(paths)
    missing = [p for p in paths if p.parent != ROOT / "ckptgui" and not p.exists()]  # ROOT / "ckptgui": rglob root
    assert not missing


def test_spec_names_the_executable_like_the_console_script() -> None:
    spec = (PACKAGING / "ckptgui.spec").read_text()
    command = next(iter(PYPROJECT["project"]["scripts"]))
    assert re.findall(r'\bname="([^"]+)"', spec) == [command, command, f"{command}.app"]
    assert '"PySide6.QtWebEngineCore"' in spec  # never bundle the web engine


def test_inno_setup_script_packs_the_spec_output_with_the_package_version() -> None:
    iss = (PACKAGING / "windows" / "ckptgui.iss").read_text()
    here = PACKAGING / "windows"
    defines = dict(re.findall(r'^#define (\w+) "([^"]*)"$', iss, re.MULTILINE))
    assert defines["MyAppExeName"] == next(iter(PYPROJECT["project"]["scripts"])) + ".exe"
    repo_root = (here / defines["RepoRoot"].replace("\\", "/")).resolve()
    assert repo_root == ROOT

    def local(value: str) -> Path:
        return here / value.replace("{#RepoRoot}", defines["RepoRoot"]).replace("\\", "/")

    settings = dict(re.findall(r"^(\w+)=(.*)$", iss, re.MULTILINE))
    assert local(settings["SetupIconFile"]).resolve() == ROOT / "packaging" / "icons" / "ckptgui.ico"
    assert local(settings["SetupIconFile"]).is_file()
    assert local(settings["OutputDir"]).resolve() == ROOT / "dist"
    assert re.search(r'^Source: "\{#RepoRoot\}\\dist\\ckptgui\\\*"', iss, re.MULTILINE)  # the onedir COLLECT
    # The version is passed in (from ckptgui.__version__), never written here.
    assert settings["AppVersion"] == "{#MyAppVersion}"
    assert "#ifndef MyAppVersion" in iss
    assert "#error" in iss


# --- version and package layout ------------------------------------------------------------------------------------


def test_version_lives_only_in_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", ckptgui.__version__)
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ckptgui.__version__"}
    literal = re.compile(rf"(?<![\d.]){re.escape(ckptgui.__version__)}(?![\d.])")
    for path in [ROOT / "pyproject.toml", ROOT / "resources" / "ckptgui.desktop", *PACKAGING.rglob("*")]:
        if path.is_file() and (
            path.suffix in (".toml", ".desktop", ".py", ".spec", ".sh", ".iss", ".ps1") or path.name == "AppRun"
        ):
            assert not literal.search(path.read_text(encoding="utf-8")), f"{path} repeats the version"
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"ckptgui {ckptgui.__version__}"


def test_pyproject_lists_every_package() -> None:
    """The package list is explicit (resources/ and its folders are mapped in); a new one must be added to it."""
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ckptgui").rglob("__init__.py")}
    resources = ROOT / "resources"
    data = {
        ".".join(("ckptgui", "resources", *p.relative_to(resources).parts)) for p in resources.rglob("*") if p.is_dir()
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == on_disk | data | {"ckptgui.resources"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"ckptgui.resources": "resources"}


def test_resource_files_is_a_real_folder_joinable_in_several_parts() -> None:
    files = resource_files()
    assert isinstance(files, Path)
    assert files.joinpath("icons", "ckptgui.svg").is_file()
    assert files.joinpath("iris.csv").is_file()


@pytest.mark.slow
def test_wheel_and_sdist_ship_the_resources(tmp_path: Path) -> None:
    """python -m build (sdist, then the wheel from it): every resource and module is inside."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "would be ignored" not in result.stdout + result.stderr  # every folder that ships is a listed package
    version = ckptgui.__version__
    resources = sorted(
        p.relative_to(ROOT / "resources").as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()
    )
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ckptgui").rglob("*.py"))
    assert resources
    wheel = zipfile.ZipFile(tmp_path / f"ckptgui-{version}-py3-none-any.whl")
    names = set(wheel.namelist())
    assert {f"ckptgui/resources/{r}" for r in resources} <= names
    assert set(modules) <= names
    assert "ckptgui = ckptgui.cli:main" in wheel.read(f"ckptgui-{version}.dist-info/entry_points.txt").decode()
    with tarfile.open(tmp_path / f"ckptgui-{version}.tar.gz") as sdist:
        in_sdist = set(sdist.getnames())
    assert {f"ckptgui-{version}/resources/{r}" for r in resources} <= in_sdist
