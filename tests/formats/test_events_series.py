"""ckptgui.formats.events.series: merging points by step, rewinds and SessionLog.START purges, without files."""

from __future__ import annotations

import numpy as np

from ckptgui.formats.events.series import ORDER_SHIFT, Points, RunSeries


def points(tag: str, steps: list[int], first_record: int = 0, value: float = 0.0) -> Points:
    chunk = Points()
    for i, step in enumerate(steps):
        chunk.add_one(tag, (first_record + i) << ORDER_SHIFT, step, 1000.0 + step, value + step)
    return chunk


def test_appends_are_reported_as_the_new_points_only():
    run = RunSeries(".")
    run.merge(points("loss", [1, 2, 3]))
    (first,) = run.changes()
    assert first.steps.tolist() == [1, 2, 3] and not first.reset
    run.merge(points("loss", [4, 5], first_record=3))
    (second,) = run.changes()
    assert second.steps.tolist() == [4, 5] and not second.reset
    assert run.series("loss").steps.tolist() == [1, 2, 3, 4, 5]
    assert run.changes() == []


def test_a_rewind_drops_the_points_at_or_after_its_step_and_resets():
    run = RunSeries(".")
    run.merge(points("loss", [1, 2, 3, 4]))
    run.changes()
    run.merge(points("loss", [3, 4], first_record=4, value=10.0))
    (delta,) = run.changes()
    assert delta.reset and delta.steps.tolist() == [1, 2, 3, 4]
    assert delta.values.tolist() == [1.0, 2.0, 13.0, 14.0]


def test_a_step_written_twice_in_one_chunk_keeps_its_latest_value():
    chunk = points("loss", [1, 2])
    chunk.add_one("loss", 2 << ORDER_SHIFT, 2, 0.0, 99.0)
    run = RunSeries(".")
    run.merge(chunk)
    assert run.series("loss").values.tolist() == [1.0, 99.0]


def test_a_later_session_start_purges_every_tag_from_its_step():
    run = RunSeries(".")
    first = points("loss", [1, 2, 3])
    first.markers.append((0, 0))  # the run's first START: no restart
    first.blocks["acc"] = [(np.array([1, 2, 3]) << ORDER_SHIFT | 1, np.array([1, 2, 3]), np.zeros(3), np.ones(3))]
    run.merge(first)
    run.changes()
    restart = Points()
    restart.markers.append((10 << ORDER_SHIFT, 2))
    run.merge(restart)
    assert {d.tag: (d.reset, d.steps.tolist()) for d in run.changes()} == {"loss": (True, [1]), "acc": (True, [1])}


def test_series_arrays_are_read_only():
    run = RunSeries(".")
    run.merge(points("loss", [1]))
    assert not run.series("loss").values.flags.writeable
