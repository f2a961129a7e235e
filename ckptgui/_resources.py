"""Where the shipped resources (Iris data, icons) are found."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def resource_files() -> Traversable:
    """``ckptgui.resources`` inside an installed package; the repo's ``resources/`` in a source checkout.

    The wheel maps the top-level ``resources/`` folder into the package; an
    interpreter started in the repo root imports ``ckptgui`` from the source
    tree instead, where that mapping does not exist.
    """
    try:
        return resources.files("ckptgui.resources")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources"
