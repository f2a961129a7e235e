#!/usr/bin/env bash
# macOS: freeze dist/ckptgui.app with packaging/ckptgui.spec (BUNDLE, icon packaging/icons/ckptgui.icns), run its
# self-test, and wrap it into dist/ckptgui-<version>-macos-<arch>.dmg with hdiutil (macOS only).
# The .app is not signed with a Developer ID nor notarized: Gatekeeper asks users to right-click > Open once.
# Usage: packaging/macos/make_dmg.sh    (PYTHON=python3.11 picks the interpreter for the build venv)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ "$(uname)" != Darwin ]; then
    echo "make_dmg.sh: builds on macOS only (PyInstaller freezes for the platform it runs on; hdiutil)" >&2
    exit 1
fi
packaging/freeze.sh
APP=$ROOT/dist/ckptgui.app
VERSION=$("$APP/Contents/MacOS/ckptgui" --version | cut -d' ' -f2)
DMG=$ROOT/dist/ckptgui-$VERSION-macos-$(uname -m).dmg

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$APP" "$stage/"
ln -s /Applications "$stage/Applications" # drag-to-install
rm -f "$DMG"
hdiutil create -volname "ckptgui $VERSION" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$DMG"
hdiutil verify "$DMG"
echo "$DMG"
