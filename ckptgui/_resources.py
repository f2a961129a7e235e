"""Where the shipped resources (Iris data, icons, desktop entry) are found."""

from __future__ import annotations

import importlib.util
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_SOURCE_TREE_RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource_files() -> Traversable:
    """The resources folder: ``ckptgui/resources`` when installed or frozen, the repo's ``resources/`` in a checkout.

    The wheel maps the top-level ``resources/`` folder into the package as the
    namespace package ``ckptgui.resources``; the PyInstaller bundle puts it at
    the same place beside the package's sources. An interpreter started in
    the repo root imports ``ckptgui`` from the source tree, where that mapping
    does not exist. A folder on disk is returned as a ``pathlib.Path``: Python
    3.11's ``MultiplexedPath`` (what ``importlib.resources`` gives for a
    namespace package) joins only one name per ``joinpath`` call and has no
    file-system ``str()``.
    """
    spec = importlib.util.find_spec("ckptgui.resources")
    if spec is None:
        return _SOURCE_TREE_RESOURCES
    for location in spec.submodule_search_locations or ():
        if Path(location).is_dir():
            return Path(location)
    return resources.files("ckptgui.resources")  # not a plain folder (e.g. a zip import): importlib reads it
