#!/usr/bin/env bash
# CI check that the published artifacts work without the source tree:
#   1. python -m build: sdist + wheel (the wheel is built from the sdist, so both are proven)  -> $OUT (default dist/)
#   2. the wheel's file list holds every file under resources/ (as ckptgui/resources/...)
#   3. a fresh venv (not editable; pip's cache is reused) with the wheel installed
#   4. from an empty directory (the repo is not importable there): resource_files() is inside site-packages,
#      `ckptgui --version` prints the package version, and `ckptgui --self-test` passes offscreen
# Usage: packaging/ci_wheel_selftest.sh    (PYTHON: interpreter with `build` installed, default .venv/bin/python)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${OUT:-$ROOT/dist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TF_CPP_MIN_LOG_LEVEL=2
started=$(date +%s)

echo "== python -m build"
VERSION=$("$PYTHON" -c 'import sys; sys.path.insert(0, "."); import ckptgui; print(ckptgui.__version__)')
WHEEL=$OUT/ckptgui-$VERSION-py3-none-any.whl
SDIST=$OUT/ckptgui-$VERSION.tar.gz
mkdir -p "$OUT"
rm -f "$WHEEL" "$SDIST"
"$PYTHON" -m build --outdir "$OUT" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
[ -f "$WHEEL" ] && [ -f "$SDIST" ] || { echo "ci_wheel_selftest: expected $WHEEL and $SDIST" >&2; exit 1; }

echo "== resources in the wheel"
"$PYTHON" - "$WHEEL" <<'EOF'
import sys, zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = {f"ckptgui/resources/{p.relative_to('resources').as_posix()}" for p in Path("resources").rglob("*") if p.is_file()}
missing = sorted(wanted - names)
if missing:
    sys.exit(f"ci_wheel_selftest: the wheel lacks {missing}")
print(f"   {len(wanted)} resource files in {Path(sys.argv[1]).name}")
EOF

echo "== fresh venv with the wheel"
base_python=$("$PYTHON" -c 'import sys; print(sys._base_executable)')
"$base_python" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL" 2>&1 | grep -v "^WARNING: Location" || true
"$WORK/venv/bin/python" -c 'import ckptgui' || { echo "ci_wheel_selftest: the wheel did not install" >&2; exit 1; }

echo "== installed app, outside the source tree"
mkdir "$WORK/elsewhere"
cd "$WORK/elsewhere"
"$WORK/venv/bin/python" - "$WORK/venv" <<'EOF'
import sys
from pathlib import Path

import ckptgui
from ckptgui._resources import resource_files

venv = Path(sys.argv[1]).resolve()
where = Path(str(resource_files())).resolve()
if venv not in Path(ckptgui.__file__).resolve().parents or venv not in where.parents:
    sys.exit(f"ckptgui came from {ckptgui.__file__}, resources from {where}: not the installed wheel")
for name in ("iris.csv", "ckptgui.desktop", "icons/ckptgui.svg", "icons/ckptgui-256.png"):
    if not resource_files().joinpath(*name.split("/")).is_file():
        sys.exit(f"installed package lacks resources/{name}")
print(f"   resources at {where}")
EOF
[ "$("$WORK/venv/bin/ckptgui" --version)" = "ckptgui $VERSION" ]
selftest_start=$(date +%s)
QT_QPA_PLATFORM=offscreen timeout 600 "$WORK/venv/bin/ckptgui" --self-test
echo "== wheel self-test passed (self-test $(($(date +%s) - selftest_start)) s, whole check $(($(date +%s) - started)) s)"
