#!/usr/bin/env bash
# Freeze ckptgui with PyInstaller and prove the result runs (Linux and macOS; Windows: windows/build_windows.ps1):
#   1. a build venv (.venv-build, or $BUILD_VENV) with PyInstaller 6 and ckptgui's dependencies from pyproject.toml
#      (ckptgui itself is read from the source tree, so the project's .venv stays untouched)
#   2. pyinstaller packaging/ckptgui.spec  -> dist/ckptgui/ (Linux) or dist/ckptgui.app (macOS)
#   3. the frozen binary's --self-test, offscreen, from an empty directory; exits non-zero if it fails
# Called by build_linux.sh and macos/make_dmg.sh. PYTHON picks the interpreter for the build venv (3.11+).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
BUILD_VENV=${BUILD_VENV:-$ROOT/.venv-build}
export TF_CPP_MIN_LOG_LEVEL=2 # quiet TensorFlow while PyInstaller imports it
case "$(uname)" in
    Darwin) FROZEN=$ROOT/dist/ckptgui.app/Contents/MacOS/ckptgui ;;
    *) FROZEN=$ROOT/dist/ckptgui/ckptgui ;;
esac

now() { date +%s.%N 2>/dev/null | grep -v N || date +%s; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ ! -f "$BUILD_VENV/.installed" ] || [ pyproject.toml -nt "$BUILD_VENV/.installed" ]; then
    echo "== build venv $BUILD_VENV"
    "$PYTHON" -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/python" -m pip install --quiet --upgrade pip
    "$BUILD_VENV/bin/python" -c \
        'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        >"$BUILD_VENV/requirements.txt"
    "$BUILD_VENV/bin/python" -m pip install --quiet "pyinstaller==6.*" -r "$BUILD_VENV/requirements.txt"
    touch "$BUILD_VENV/.installed"
fi
VERSION=$("$BUILD_VENV/bin/python" -c 'import ckptgui; print(ckptgui.__version__)')

echo "== pyinstaller (ckptgui $VERSION)"
start=$(now)
"$BUILD_VENV/bin/pyinstaller" --noconfirm --log-level WARN --workpath "$ROOT/build/pyinstaller" \
    --distpath "$ROOT/dist" packaging/ckptgui.spec
build_s=$(since "$start")

echo "== frozen self-test ($FROZEN)"
smoke_dir=$(mktemp -d)
trap 'rm -rf "$smoke_dir"' EXIT
start=$(now)
if ! (cd "$smoke_dir" && QT_QPA_PLATFORM=offscreen "$FROZEN" --self-test); then
    echo "freeze.sh: the frozen app's --self-test failed: $FROZEN is broken" >&2
    exit 1
fi
selftest_s=$(since "$start")
version_out=$(cd "$smoke_dir" && "$FROZEN" --version)
if [ "$version_out" != "ckptgui $VERSION" ]; then
    echo "freeze.sh: the frozen app's --version says '$version_out', the package says $VERSION" >&2
    exit 1
fi
echo "== frozen ckptgui $VERSION: pyinstaller ${build_s} s, self-test ${selftest_s} s"
