"""The scalar series of one run: points merged by step, with rewinds and ``SessionLog.START`` purges.

A run's files are read in name order (their names start with the creation time) and their points form one
series per tag, ordered by step, one point per step:

* a point whose step is not above the last one of its series is a rewind: the points already held at that
  step or later are dropped and the new point wins. A restart from an older checkpoint therefore replaces
  the orphaned points of the crashed run (TensorBoard purges them too), and a step written twice keeps its
  latest value;
* a ``SessionLog.START`` event at step S (written by Estimator / MonitoredSession on every start) other than
  the run's first drops the points at step >= S of every tag of the run, exactly as TensorBoard does.

TensorBoard purges out-of-order steps only for files older than ``file_version`` 2 and on ``SessionLog.START``;
TF2 writers never write that event, so after a restart TensorBoard draws both runs over each other, where we
keep the newer one.

The arrays handed out are read-only snapshots that are never written to again (appends go past their end,
rewinds build new arrays), so they can be passed to another thread and kept without copying.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORDER_SHIFT = 16  # order key of a point: record index << 16 | position of the value in its record


@dataclass(eq=False)
class ScalarSeries:
    """Points of one tag of one run, ordered by step (numpy arrays, read-only).

    In :meth:`ScalarReader.poll` results a series holds only the points added since the previous poll,
    unless ``reset`` is true: then a rewind dropped points and the series holds every point of the tag,
    to replace (not extend) what the caller had.
    """

    run: str
    tag: str
    steps: np.ndarray  # int64
    wall_times: np.ndarray  # float64, seconds since the epoch
    values: np.ndarray  # float64
    reset: bool = False

    def __len__(self) -> int:
        return len(self.steps)


class Points:
    """Points of one chunk of records, in file order, before they are merged into the series."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.singles: dict[str, list[tuple[int, int, float, float]]] = {}
        self.markers: list[tuple[int, int]] = []  # (order key, step) of SessionLog.START events

    def add_block(self, tag: str, keys: np.ndarray, steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> None:
        self.blocks.setdefault(tag, []).append((keys, steps, walls, values))

    def add_one(self, tag: str, key: int, step: int, wall: float, value: float) -> None:
        self.singles.setdefault(tag, []).append((key, step, wall, value))

    def tags(self) -> set[str]:
        return set(self.blocks) | set(self.singles)

    def arrays(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """keys, steps, wall times, values of one tag, in file order."""
        parts = list(self.blocks.get(tag, ()))
        singles = self.singles.get(tag)
        if singles:
            keys, steps, walls, values = zip(*singles, strict=True)
            parts.append(
                (
                    np.array(keys, dtype=np.int64),
                    np.array(steps, dtype=np.int64),
                    np.array(walls, dtype=np.float64),
                    np.array(values, dtype=np.float64),
                )
            )
        if not parts:
            empty = np.empty(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty, empty
        if len(parts) == 1:
            keys, steps, walls, values = parts[0]
        else:
            keys, steps, walls, values = (np.concatenate(column) for column in zip(*parts, strict=True))
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # pieces come by record length, not file order
            order = np.argsort(keys, kind="stable")
            keys, steps, walls, values = keys[order], steps[order], walls[order], values[order]
        return keys, steps, walls, values


class _Buffer:
    """A growing series; never writes over a range it has handed out."""

    __slots__ = ("n", "steps", "values", "walls")

    def __init__(self) -> None:
        self.n = 0
        self.steps = np.empty(0, dtype=np.int64)
        self.walls = np.empty(0, dtype=np.float64)
        self.values = np.empty(0, dtype=np.float64)

    def cut(self, step: int) -> int:
        """Index of the first point at ``step`` or later."""
        return int(np.searchsorted(self.steps[: self.n], step, side="left"))

    def put(self, cut: int, steps: np.ndarray, walls: np.ndarray, values: np.ndarray) -> bool:
        """Keep the first ``cut`` points, then append; True when points were dropped (a rewind)."""
        m = len(steps)
        rewind = cut < self.n
        if rewind or self.n + m > len(self.steps):
            keep = cut if rewind else self.n
            capacity = max(64, 2 * (keep + m))
            new = []
            for old in (self.steps, self.walls, self.values):
                arr = np.empty(capacity, dtype=old.dtype)
                arr[:keep] = old[:keep]
                new.append(arr)
            self.steps, self.walls, self.values = new
            self.n = keep
        self.steps[self.n : self.n + m] = steps
        self.walls[self.n : self.n + m] = walls
        self.values[self.n : self.n + m] = values
        self.n += m
        return rewind

    def series(self, run: str, tag: str, start: int = 0, reset: bool = False) -> ScalarSeries:
        views = []
        for arr in (self.steps, self.walls, self.values):
            view = arr[start : self.n]
            view.flags.writeable = False
            views.append(view)
        return ScalarSeries(run, tag, *views, reset=reset)


class RunSeries:
    """Every tag's series of one run, and what changed since :meth:`changes` was last called."""

    def __init__(self, run: str) -> None:
        self.run = run
        self._buffers: dict[str, _Buffer] = {}
        self._seen_start = False  # a SessionLog.START was read
        self._changed: dict[str, list] = {}  # tag -> [length before the changes, reset]

    def tags(self) -> list[str]:
        return sorted(self._buffers)

    def series(self, tag: str) -> ScalarSeries:
        """Every point of ``tag``; KeyError naming the tags there are when there is no such series."""
        buf = self._buffers.get(tag)
        if buf is None:
            raise KeyError(f"no scalar tag {tag!r} in run {self.run!r}; tags: {', '.join(self.tags()) or 'none'}")
        return buf.series(self.run, tag)

    def changes(self) -> list[ScalarSeries]:
        """The series changed since the last call: their new points, or all of them after a rewind (``reset``)."""
        out = [
            self._buffers[tag].series(self.run, tag, 0 if reset else start, reset)
            for tag, (start, reset) in self._changed.items()
        ]
        self._changed = {}
        return out

    def merge(self, points: Points) -> None:
        """Append a chunk's points to the series, applying rewinds and restarts (see the module docstring)."""
        tags = points.tags()
        marker_keys = marker_steps = marker_min = None
        points.markers.sort()
        if points.markers and not self._seen_start:  # the run's first start is no restart
            self._seen_start = True
            del points.markers[0]
        if points.markers:
            marker_keys = np.array([k for k, _ in points.markers], dtype=np.int64)
            marker_steps = np.array([s for _, s in points.markers], dtype=np.int64)
            marker_min = np.minimum.accumulate(marker_steps[::-1])[::-1]  # lowest START step from each marker on
            tags |= set(self._buffers)
        for tag in sorted(tags):
            keys, steps, walls, values = points.arrays(tag)
            keep = np.ones(len(steps), dtype=bool)
            if len(steps) > 1:
                later = np.minimum.accumulate(steps[::-1])[::-1]
                keep[:-1] = steps[:-1] < later[1:]
            threshold = int(steps.min()) if len(steps) else None
            if marker_keys is not None:
                nxt = np.searchsorted(marker_keys, keys, side="right")
                has_later = nxt < len(marker_keys)
                keep &= ~(has_later & (steps >= marker_min[np.minimum(nxt, len(marker_keys) - 1)]))
                lowest = int(marker_min[0])
                threshold = lowest if threshold is None else min(threshold, lowest)
            buf = self._buffers.get(tag)
            if buf is None:
                if not keep.any():
                    continue
                buf = self._buffers[tag] = _Buffer()
            cut = buf.cut(threshold)
            if cut == buf.n and not keep.any():
                continue
            entry = self._changed.setdefault(tag, [buf.n, False])
            if buf.put(cut, steps[keep], walls[keep], values[keep]):
                entry[1] = True
