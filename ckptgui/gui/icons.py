"""Icons from the shipped ``resources/icons`` folder, with Qt's built-in ones as fallback."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from ckptgui._resources import resource_files

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# What to show when an action's SVG is missing from resources/icons/actions/.
_FALLBACK = {
    "open": QStyle.StandardPixmap.SP_DirOpenIcon,
    "new-dir": QStyle.StandardPixmap.SP_FileDialogNewFolder,
    "file-manager": QStyle.StandardPixmap.SP_DirLinkIcon,
    "start": QStyle.StandardPixmap.SP_MediaPlay,
    "pause": QStyle.StandardPixmap.SP_MediaPause,
    "stop": QStyle.StandardPixmap.SP_MediaStop,
    "continue": QStyle.StandardPixmap.SP_MediaSeekForward,
    "reload": QStyle.StandardPixmap.SP_BrowserReload,
    "quit": QStyle.StandardPixmap.SP_DialogCloseButton,
    "help": QStyle.StandardPixmap.SP_MessageBoxQuestion,
}


def _load(path_in_resources: str) -> QIcon | None:
    resource = resource_files().joinpath(*path_in_resources.split("/"))
    if not resource.is_file():
        return None
    path = Path(str(resource))
    if path.is_file():  # a plain install: let Qt render SVGs at every size it needs
        return QIcon(str(path))
    pixmap = QPixmap()  # zipped resources: load the bytes once
    return QIcon(pixmap) if pixmap.loadFromData(resource.read_bytes()) else None


@cache
def icon(name: str) -> QIcon:
    """The icon for an action (``resources/icons/actions/<name>.svg``); a Qt standard icon or none if missing."""
    loaded = _load(f"icons/actions/{name}.svg")
    if loaded is not None:
        return loaded
    fallback = _FALLBACK.get(name)
    if fallback is not None and QApplication.instance() is not None:
        return QApplication.style().standardIcon(fallback)
    return QIcon()


@cache
def app_icon() -> QIcon:
    """The application icon the packaging helper makes: the SVG, else the PNG sizes present, else none."""
    svg = _load("icons/ckptgui.svg")
    if svg is not None:
        return svg
    result = QIcon()
    for size in APP_ICON_SIZES:
        png = _load(f"icons/ckptgui-{size}.png")
        if png is not None:
            result.addPixmap(png.pixmap(size, size))
    return result
