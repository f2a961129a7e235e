"""Scalar series as CSV: one ``run,tag,step,wall_time,value`` row per point."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import IO

from ckptgui.formats.events.series import ScalarSeries


def export_csv(series: Iterable[ScalarSeries], file: str | os.PathLike[str] | IO[str]) -> int:
    """Write every point as ``run,tag,step,wall_time,value`` rows (with a header); returns the number of points.

    Floats are written in full (shortest round-trip form), so the file reads back to the same numbers.
    """
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            return export_csv(series, fh)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(["run", "tag", "step", "wall_time", "value"])
    count = 0
    for s in series:
        n = len(s.steps)
        writer.writerows(
            zip([s.run] * n, [s.tag] * n, s.steps.tolist(), s.wall_times.tolist(), s.values.tolist(), strict=True)
        )
        count += n
    return count
