"""Retention: the one rule function, and the sweeper and the explainer agreeing because both call it."""

from __future__ import annotations

from pathlib import Path

from ckptgui.formats.statefile import CheckpointState, read_state, write_state
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.layout import step_of
from ckptgui.modeldir.records import LedgerReader, RunLog, read_run_log, record_written, set_pinned, write_run_log
from ckptgui.modeldir.retention import (
    KEPT_FOREIGN,
    KEPT_HOURS,
    KEPT_PINNED,
    Policy,
    Retention,
    checkpoints_on_disk,
    judge,
    why_kept,
)

HOUR = 3600.0


def policy(keep_max: int | None = 2, hours: float = 10000, keep_best: int = 0, metric: str = "accuracy") -> Policy:
    return Policy(keep_max, hours * HOUR, keep_best, metric)


def test_latest_n_keeps_the_last_listed_of_ours_and_sweeps_the_rest():
    verdict = judge([(s, 0.0) for s in (100, 200, 300, 400)], (), {100, 200, 300, 400}, {}, (), (), policy(), 0.0)
    assert verdict.swept == [100, 200]
    assert verdict.preserved == []
    assert verdict.reasons == {100: [], 200: [], 300: ["latest 2"], 400: ["latest 2"]}


def test_no_limit_keeps_every_listed_checkpoint_as_latest():
    verdict = judge([(100, 0.0), (200, 0.0)], (), {100, 200}, {}, (), (), policy(keep_max=0), 0.0)
    assert verdict.swept == []
    assert verdict.reasons == {100: ["latest"], 200: ["latest"]}


def test_best_k_by_loss_keeps_the_lowest_losses():
    metrics = {100: {"loss": 0.1}, 200: {"loss": 0.9}, 300: {"loss": 0.2}, 400: {"loss": 0.5}}
    verdict = judge(
        [(s, 0.0) for s in metrics], (), set(metrics), metrics, (), (), policy(1, keep_best=2, metric="loss"), 0.0
    )
    assert verdict.swept == [200]
    assert verdict.reasons[100] == ["best 2 by loss"]
    assert verdict.reasons[300] == ["best 2 by loss"]
    assert verdict.reasons[400] == ["latest 1"]


def test_foreign_pinned_and_unlisted_checkpoints_are_never_swept():
    listed = [(5, 0.0), (100, 0.0), (200, 0.0), (300, 0.0)]
    verdict = judge(listed, [7, 50], {50, 100, 200, 300}, {}, {100}, (), policy(1), 0.0)
    assert verdict.swept == [200]
    assert verdict.reasons[5] == [KEPT_FOREIGN]
    assert verdict.reasons[7] == [KEPT_FOREIGN]
    assert verdict.reasons[50] == []  # ours but not listed: not the sweeper's to delete
    assert verdict.reasons[100] == [KEPT_PINNED]


def test_every_n_hours_preserves_one_checkpoint_per_interval_in_time_order():
    listed = [(100, 1 * HOUR), (200, 2 * HOUR), (300, 3.5 * HOUR), (400, 4 * HOUR), (500, 5 * HOUR)]
    verdict = judge(listed, (), {100, 200, 300, 400, 500}, {}, (), (), policy(1, hours=2), 0.0)
    assert verdict.preserved == [200, 400]  # 2h after 0, then 2h after the 200 kept at 2h
    assert verdict.swept == [100, 300]
    assert verdict.last_preserved == 4 * HOUR
    assert verdict.dropped == {100, 200, 300, 400}
    assert verdict.reasons[200] == [KEPT_HOURS]
    assert judge([], [200], {200}, {}, (), [200], policy(1), 0.0).reasons == {200: [KEPT_HOURS]}


def _checkpoint(model_dir: Path, step: int, name: str = "model.ckpt") -> dict[str, int]:
    """A two-file checkpoint; returns its files and sizes, as the trainer records them in the ledger."""
    files = {}
    for suffix in (".index", ".data-00000-of-00001"):
        path = model_dir / f"{name}-{step}{suffix}"
        path.write_bytes(b"x" * step)
        files[path.name] = step
    return files


def test_the_sweeper_deletes_exactly_what_why_kept_gives_no_reason_for(tmp_path: Path):
    """Mixed rules: latest 2, best 1 by accuracy, every 2 hours, a pin, a foreign checkpoint."""
    schedule = ScheduleConfig(keep_checkpoint_max=2, keep_checkpoint_every_n_hours=2, keep_best_max=1)
    write_run_log(tmp_path, RunLog(spec=RunSpec(network=NetworkConfig(), schedule=schedule)))
    steps = [5, *range(100, 1000, 100)]
    accuracy = {100: 0.5, 200: 0.9, 300: 0.6, 400: 0.7, 500: 0.4, 600: 0.3, 700: 0.2, 800: 0.1, 900: 0.05}
    for step in steps:
        files = _checkpoint(tmp_path, step)
        if step != 5:
            record_written(tmp_path, step, {"accuracy": accuracy[step]}, files)
    set_pinned(tmp_path, 300)
    names = [f"model.ckpt-{step}" for step in steps]
    saved_at = [1000.0 + step * 36 for step in steps]  # 100 steps an hour; the last one preserved was at 300
    write_state(tmp_path, CheckpointState(names[-1], names, saved_at, last_preserved_timestamp=saved_at[3]))

    explained = why_kept(tmp_path)
    unexplained = sorted(step for step, reasons in explained.items() if not reasons)
    assert explained[5] == [KEPT_FOREIGN]
    assert explained[200] == ["best 1 by accuracy"]
    assert explained[300] == [KEPT_PINNED]
    assert explained[500] == explained[700] == [KEPT_HOURS]  # 2 hours after 300, then after 500
    assert unexplained == [100, 400, 600]

    log = read_run_log(tmp_path)
    swept = Retention(tmp_path, schedule, log, resumed_step=800).record(
        900, str(tmp_path / "model.ckpt-900"), {"accuracy": 0.05}
    )
    assert sorted(step for step, _ in swept) == unexplained
    assert sorted(step_of(p) for p in checkpoints_on_disk(tmp_path)) == sorted(set(steps) - set(unexplained))
    assert read_run_log(tmp_path).preserved == [500, 700]
    assert all(why_kept(tmp_path).values())  # after the sweep, every checkpoint left has a reason
    assert {step_of(p) for p in read_state(tmp_path).all_model_checkpoint_paths} == {5, 200, 300, 800, 900}


def test_why_kept_with_a_reader_answers_as_without(tmp_path: Path):
    for step in (100, 200, 300):
        (tmp_path / f"model.ckpt-{step}.index").write_bytes(b"")
    (tmp_path / "model.ckpt-50.index").write_bytes(b"")  # not ours
    record_written(tmp_path, 100, files={"model.ckpt-100.index": 0})
    record_written(tmp_path, 200, files={"model.ckpt-200.index": 0})
    reader = LedgerReader(tmp_path)
    assert why_kept(tmp_path, reader) == why_kept(tmp_path)
    record_written(tmp_path, 300, files={"model.ckpt-300.index": 0})
    assert why_kept(tmp_path, reader) == why_kept(tmp_path)
    assert why_kept(tmp_path, reader)[50] == why_kept(tmp_path)[50] != why_kept(tmp_path)[300]


# Nothing foreign is deleted: the ledger identifies a checkpoint by its name in this model_dir and its files' sizes.


def _sweep_with_keep_max_1(model_dir: Path, listed: list[str]) -> list[tuple[int, str]]:
    """The state file lists ``listed``; a new checkpoint (step 1000) is recorded with keep_checkpoint_max=1."""
    write_state(model_dir, CheckpointState(listed[-1], listed, [float(i) for i in range(len(listed))]))
    files = _checkpoint(model_dir, 1000)
    retention = Retention(model_dir, ScheduleConfig(keep_checkpoint_max=1), RunLog(), resumed_step=999)
    (model_dir / "model.ckpt-1000.index").unlink()  # as if the trainer had only now written it
    (model_dir / "model.ckpt-1000.index").write_bytes(b"x" * files["model.ckpt-1000.index"])
    return retention.record(1000, str(model_dir / "model.ckpt-1000"), {})


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_a_state_file_path_outside_the_model_dir_is_never_swept(tmp_path: Path):
    """Estimator wrote absolute paths: a moved or copied model_dir names the original's checkpoints."""
    model_dir, other = tmp_path / "run", tmp_path / "other"
    model_dir.mkdir()
    other.mkdir()
    record_written(model_dir, 100, files=_checkpoint(model_dir, 100))
    record_written(model_dir, 200, files=_checkpoint(model_dir, 200))
    _checkpoint(other, 100)
    _checkpoint(other, 200)
    (other / "model.ckpt-100.data-00000-of-00002").write_bytes(b"x" * 100)
    before = _files(other)
    swept = _sweep_with_keep_max_1(model_dir, ["../other/model.ckpt-100", str(other / "model.ckpt-200")])
    assert swept == []
    assert _files(other) == before
    assert {"model.ckpt-100.index", "model.ckpt-200.index"} <= _files(model_dir)  # not listed: not swept
    state = read_state(model_dir)
    assert state.all_model_checkpoint_paths == [
        "../other/model.ckpt-100",
        str(other / "model.ckpt-200"),
        "model.ckpt-1000",
    ]


def test_foreign_checkpoints_with_our_step_numbers_are_never_swept(tmp_path: Path):
    """CheckpointManager's ckpt-1..3 where ckptgui once wrote steps 1..3 (since deleted)."""
    for step in (1, 2, 3):
        ours = {f"model.ckpt-{step}.index": step, f"model.ckpt-{step}.data-00000-of-00001": step}
        record_written(tmp_path, step, files=ours)
        _checkpoint(tmp_path, step, name="ckpt")
    before = _files(tmp_path)
    assert _sweep_with_keep_max_1(tmp_path, ["ckpt-1", "ckpt-2", "ckpt-3"]) == []
    assert before <= _files(tmp_path)


def test_a_garbled_state_file_sweeps_nothing_foreign(tmp_path: Path):
    for step in (1, 2, 3):
        record_written(tmp_path, step, files={f"model.ckpt-{step}.index": step})
        _checkpoint(tmp_path, step, name="ckpt")
    (tmp_path / "checkpoint").write_bytes(b"\xff garbled {")
    _checkpoint(tmp_path, 1000)
    before = _files(tmp_path)
    swept = Retention(tmp_path, ScheduleConfig(keep_checkpoint_max=1), RunLog()).record(
        1000, str(tmp_path / "model.ckpt-1000"), {}
    )
    assert swept == []
    assert before <= _files(tmp_path)


def test_a_checkpoint_rewritten_by_someone_else_or_linked_is_not_ours_any_more(tmp_path: Path):
    record_written(tmp_path, 100, files=_checkpoint(tmp_path, 100))
    record_written(tmp_path, 200, files=_checkpoint(tmp_path, 200))
    record_written(tmp_path, 300, files=_checkpoint(tmp_path, 300))
    (tmp_path / "model.ckpt-100.data-00000-of-00001").write_bytes(b"y" * 7)  # another size: another writer's
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "target").write_bytes(b"x" * 200)
    (tmp_path / "model.ckpt-200.data-00000-of-00001").unlink()
    (tmp_path / "model.ckpt-200.data-00000-of-00001").symlink_to(outside / "target")  # same size, but a link
    swept = _sweep_with_keep_max_1(tmp_path, ["model.ckpt-100", "model.ckpt-200", "model.ckpt-300"])
    assert [step for step, _ in swept] == [300]
    assert {"model.ckpt-100.index", "model.ckpt-200.index", "model.ckpt-200.data-00000-of-00001"} <= _files(tmp_path)
    assert (outside / "target").read_bytes() == b"x" * 200
    assert "model.ckpt-300.index" not in _files(tmp_path)


def test_a_ledger_line_without_files_identifies_nothing(tmp_path: Path):
    """Lines written before sizes were recorded: their checkpoints are kept, never guessed at by step."""
    _checkpoint(tmp_path, 100)
    (tmp_path / "ckptgui_written.txt").write_text("100 accuracy=0.5\n")
    assert _sweep_with_keep_max_1(tmp_path, ["model.ckpt-100"]) == []
    assert "model.ckpt-100.index" in _files(tmp_path)
    assert why_kept(tmp_path)[100] == [KEPT_FOREIGN]


def test_checkpoints_newer_than_the_one_resumed_from_are_never_swept(tmp_path: Path):
    """An unreadable newest checkpoint may be healthy: a run that resumed from an older one keeps it."""
    for step in (100, 200, 300):
        record_written(tmp_path, step, files=_checkpoint(tmp_path, step))
    names = ["model.ckpt-100", "model.ckpt-200", "model.ckpt-300"]
    write_state(tmp_path, CheckpointState(names[-1], names, [1.0, 2.0, 3.0]))
    retention = Retention(tmp_path, ScheduleConfig(keep_checkpoint_max=1), RunLog(), resumed_step=200)
    _checkpoint(tmp_path, 210)
    swept = retention.record(210, str(tmp_path / "model.ckpt-210"), {})
    assert sorted(step for step, _ in swept) == [100, 200]
    assert "model.ckpt-300.index" in _files(tmp_path)


def test_a_relative_model_dir_owns_the_absolute_paths_estimator_wrote_for_it(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Path("run")
    run.mkdir()
    for step in (100, 200):
        record_written(run, step, files=_checkpoint(run, step))
    listed = [str(tmp_path / "run" / "model.ckpt-100"), str(tmp_path / "run" / "model.ckpt-200")]
    assert [step for step, _ in _sweep_with_keep_max_1(run, listed)] == [100, 200]
