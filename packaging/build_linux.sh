#!/usr/bin/env bash
# Build the Linux desktop bundle and prove it runs:
#   1. freeze.sh: build venv, PyInstaller onedir bundle -> dist/ckptgui/, the frozen --self-test (fails the build)
#   2. dist/ckptgui-<version>-linux-x86_64.tar.gz: the bundle plus install.sh (runs in place, or installs for the
#      user into ~/.local with a menu entry and icons); install.sh is tried into a temporary prefix first
#   3. dist/ckptgui-<version>-x86_64.AppImage as well, where appimagetool is on PATH
# Usage: packaging/build_linux.sh [--no-archive]    (PYTHON=python3.11 picks the interpreter for the build venv)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DIST=$ROOT/dist
BUNDLE=$DIST/ckptgui
ARCHIVE=1
[ "${1:-}" = "--no-archive" ] && ARCHIVE=0

# Qt's xcb platform plugin links these; PyInstaller bundles them only when the build machine has them, and desktops
# without them then fail with "could not load the Qt platform plugin xcb".
XCB_DEBS="libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0"
missing=""
known_libs=$(ldconfig -p)
for lib in libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-cursor.so.0 libxkbcommon-x11.so.0; do
    grep -qF "$lib" <<<"$known_libs" || missing="$missing $lib"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "== installing $XCB_DEBS (to bundle them)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $XCB_DEBS >/dev/null
    else
        echo "build_linux.sh: warning: not bundled (install $XCB_DEBS to bundle them):$missing" >&2
    fi
fi

started=$(date +%s)
packaging/freeze.sh
VERSION=$("$BUNDLE/ckptgui" --version | cut -d' ' -f2)
[ "$ARCHIVE" = 1 ] || exit 0

echo "== archives"
name=ckptgui-$VERSION-linux-x86_64
stage=$ROOT/build/$name
rm -rf "$stage" && mkdir -p "$ROOT/build"
cp -al "$BUNDLE" "$stage" # hard links: no second copy of the bundle on disk
cp packaging/linux/install.sh "$stage/install.sh"

# The install script, tried for real into a throwaway prefix.
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
PREFIX=$prefix "$stage/install.sh" >/dev/null
for path in bin/ckptgui share/applications/ckptgui.desktop share/icons/hicolor/256x256/apps/ckptgui.png \
    share/icons/hicolor/scalable/apps/ckptgui.svg; do
    [ -e "$prefix/$path" ] || { echo "build_linux.sh: install.sh did not create $path" >&2; exit 1; }
done
grep -q "^Exec=\"$prefix/opt/ckptgui/ckptgui\"$" "$prefix/share/applications/ckptgui.desktop" ||
    { echo "build_linux.sh: the installed desktop entry does not run the installed bundle" >&2; exit 1; }
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$prefix/share/applications/ckptgui.desktop"
fi
[ "$("$prefix/bin/ckptgui" --version)" = "ckptgui $VERSION" ] ||
    { echo "build_linux.sh: the installed ckptgui does not run" >&2; exit 1; }
PREFIX=$prefix "$prefix/opt/ckptgui/install.sh" --uninstall >/dev/null
[ ! -e "$prefix/bin/ckptgui" ] && [ ! -e "$prefix/opt/ckptgui" ] && [ ! -e "$prefix/share/applications/ckptgui.desktop" ] ||
    { echo "build_linux.sh: install.sh --uninstall left files behind" >&2; exit 1; }
echo "   install.sh: install + uninstall into a temporary prefix work"

gzip_prog=gzip
command -v pigz >/dev/null && gzip_prog=pigz
tar -C "$ROOT/build" -I "$gzip_prog" -cf "$DIST/$name.tar.gz" "$name"
rm -rf "$stage"
echo "   $DIST/$name.tar.gz ($(du -sm "$DIST/$name.tar.gz" | cut -f1) MiB)"

if command -v appimagetool >/dev/null; then
    appdir=$ROOT/build/ckptgui.AppDir
    rm -rf "$appdir" && mkdir -p "$appdir"
    cp -al "$BUNDLE" "$appdir/ckptgui"
    cp packaging/linux/AppRun "$appdir/AppRun"
    cp resources/ckptgui.desktop "$appdir/ckptgui.desktop"
    cp resources/icons/ckptgui-256.png "$appdir/ckptgui.png"
    ln -s ckptgui.png "$appdir/.DirIcon"
    ARCH=x86_64 appimagetool --no-appstream "$appdir" "$DIST/ckptgui-$VERSION-x86_64.AppImage"
    rm -rf "$appdir"
    echo "   $DIST/ckptgui-$VERSION-x86_64.AppImage"
else
    echo "   (no appimagetool on PATH: no AppImage; the tar.gz is the Linux download)"
fi
echo "== ckptgui $VERSION for Linux: bundle $(du -sm "$BUNDLE" | cut -f1) MiB in $BUNDLE, $(($(date +%s) - started)) s in all"
