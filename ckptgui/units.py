"""How sizes read, in the window and on the command line alike: binary units (B, KiB, MiB, GiB, TiB)."""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: float) -> str:
    """``512 B``, ``4.5 KiB``, ``1.2 MiB``: whole bytes below 1 KiB, else one decimal of the largest unit below."""
    for unit in UNITS:
        if size < 1024 or unit == UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable: the last unit returns")
