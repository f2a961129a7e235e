#!/usr/bin/env bash
# Install the ckptgui bundle this script sits in for the current user (no root needed):
#   ./install.sh              copy to ~/.local/opt/ckptgui, link ~/.local/bin/ckptgui, add the menu entry and icons
#   ./install.sh --uninstall  remove all of that again
#   PREFIX=/some/prefix ./install.sh   install under PREFIX instead of ~/.local
# The bundle also runs in place without installing: ./ckptgui
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
DEST=$PREFIX/opt/ckptgui
BIN=$PREFIX/bin/ckptgui
SHARE=${XDG_DATA_HOME:-$PREFIX/share}
[ "$PREFIX" = "$HOME/.local" ] || SHARE=$PREFIX/share
DESKTOP=$SHARE/applications/ckptgui.desktop
ICONS=$SHARE/icons/hicolor
SIZES="16 32 48 64 128 256 512"

refresh_caches() {
    # Menus pick new entries up without these on most desktops; run them when present, ignore their complaints.
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" 2>/dev/null || true
    # Only refresh an icon cache that exists: a new one would hide icons other programs add later without updating it.
    [ -f "$ICONS/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null &&
        gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

uninstall() {
    rm -rf "$DEST"
    [ -L "$BIN" ] && rm -f "$BIN"
    rm -f "$DESKTOP" "$ICONS/scalable/apps/ckptgui.svg"
    for size in $SIZES; do rm -f "$ICONS/${size}x${size}/apps/ckptgui.png"; done
    refresh_caches
    echo "ckptgui removed from $PREFIX"
}

install() {
    local resources="$HERE/_internal/ckptgui/resources"
    if [ ! -x "$HERE/ckptgui" ] || [ ! -d "$resources" ]; then
        echo "install.sh: $HERE is not a ckptgui bundle (expected ./ckptgui and ./_internal/ckptgui/resources)" >&2
        exit 1
    fi
    if [ "$HERE" != "$DEST" ]; then
        echo "Copying the bundle to $DEST ..."
        rm -rf "$DEST.new"
        mkdir -p "$(dirname "$DEST")"
        cp -a "$HERE" "$DEST.new"
        rm -rf "$DEST"
        mv "$DEST.new" "$DEST"
    fi
    mkdir -p "$(dirname "$BIN")" "$(dirname "$DESKTOP")" "$ICONS/scalable/apps"
    ln -sfn "$DEST/ckptgui" "$BIN"
    for size in $SIZES; do
        mkdir -p "$ICONS/${size}x${size}/apps"
        cp "$resources/icons/ckptgui-$size.png" "$ICONS/${size}x${size}/apps/ckptgui.png"
    done
    cp "$resources/icons/ckptgui.svg" "$ICONS/scalable/apps/ckptgui.svg"
    # The shipped entry runs "ckptgui" from PATH; a menu may not have ~/.local/bin on PATH, so point at the bundle.
    sed -e "s|^Exec=.*|Exec=\"$DEST/ckptgui\"|" -e "s|^TryExec=.*|TryExec=$DEST/ckptgui|" \
        "$resources/ckptgui.desktop" >"$DESKTOP"
    refresh_caches
    echo "ckptgui $("$DEST/ckptgui" --version | cut -d' ' -f2) installed: $DEST"
    echo "  command:    $BIN"
    echo "  menu entry: $DESKTOP"
    case ":$PATH:" in *":$(dirname "$BIN"):"*) ;; *) echo "  note: $(dirname "$BIN") is not on your PATH" ;; esac
}

case "${1:-}" in
    "") install ;;
    --uninstall) uninstall ;;
    *) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
