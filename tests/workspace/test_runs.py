"""A folder of runs: which folders are runs, their rows against the run logs and events, spec diff, export, live."""

from __future__ import annotations

import csv
import io
import shutil

import numpy as np
import pytest
from runs_parent import runs_parent

from ckptgui.formats.events import export_csv, read_scalars
from ckptgui.formats.events.runs import read_ends
from ckptgui.modeldir.records import RunLog, read_run_log, read_written
from ckptgui.modeldir.runs import group_runs, run_status, spec_diff, table_columns, write_table_csv
from ckptgui.workspace.runs import RunsFolder


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    return runs_parent(tmp_path_factory)


@pytest.fixture(scope="module")
def folder(parent):
    found = RunsFolder(parent)
    found.poll()
    return found


def test_each_model_dir_is_one_run_whatever_wrote_it(folder):
    assert [r.name for r in folder.rows()] == [
        "estimator",
        "keras",
        "keras/tf_checkpoint",
        "sweep/small",
        "sweep/wide",
    ]


def test_group_runs_folds_event_folders_into_their_run():
    kinds = {
        "a": "checkpoints",
        "a/eval": "events",
        "k": "checkpoints",
        "k/logs/train": "events",
        "k/logs/validation": "events",
        "tb/run1/train": "events",
        "tb/run1/validation": "events",
        "tb/run2": "events",
        "empty": "",
    }
    assert group_runs(kinds) == {
        "a": "a",
        "a/eval": "a",
        "k": "k",
        "k/logs/train": "k",
        "k/logs/validation": "k",
        "tb/run1/train": "tb/run1",
        "tb/run1/validation": "tb/run1",
        "tb/run2": "tb/run2",
    }


def test_rows_match_the_run_logs_checkpoints_and_events(folder, parent):
    for name in ("sweep/small", "sweep/wide"):
        row = folder.row(name)
        log = read_run_log(parent / name)
        assert row.status == "finished"
        assert row.spec["hidden_units"] == log.spec.network.hidden_units
        assert row.spec["learning_rate"] == log.spec.network.learning_rate
        assert row.spec["data_sha256"] == log.history[-1]["data_sha256"]
        _, metrics = read_written(parent / name)
        assert row.checkpoints == row.healthy == len(list((parent / name).glob("*.index")))
        assert row.damaged == 0
        assert row.steps == 60
        evals = read_scalars(parent / name / "eval")["."]
        accuracy, loss = evals["accuracy"], evals["loss"]
        assert row.accuracy.last == pytest.approx(float(accuracy.values[-1]))
        assert row.accuracy.best == pytest.approx(float(accuracy.values.max()))
        assert row.accuracy.best_step == int(accuracy.steps[np.argmax(accuracy.values)])
        assert row.loss.best == pytest.approx(float(loss.values.min()))
        assert row.loss.last_step == int(loss.steps[-1]) == 60
        assert row.accuracy.best == pytest.approx(max(m["accuracy"] for m in metrics.values()), rel=1e-6)
        size = sum(p.stat().st_size for p in (parent / name).rglob("*") if p.is_file())
        assert row.disk_bytes == size
    estimator = folder.row("estimator")
    assert estimator.checkpoints == 3 and estimator.steps == 200 and estimator.spec == {}
    keras = folder.row("keras")
    assert keras.accuracy.last is not None  # from logs/validation/epoch_accuracy


def test_table_shows_only_the_spec_fields_that_differ(folder):
    rows = [folder.row("sweep/small"), folder.row("sweep/wide")]
    columns = table_columns(rows)
    assert "hidden_units" in columns and "learning_rate" in columns
    assert "optimizer" not in columns and "data" not in columns


def test_spec_diff_in_plain_words(folder):
    small, wide = folder.row("sweep/small").spec, folder.row("sweep/wide").spec
    assert spec_diff(small, wide) == "hidden_units [10, 10] → [20, 20]; learning_rate 0.05 → 0.1; data unchanged"
    assert spec_diff(small, {}) == "no run log in B: nothing recorded to compare"


def test_status_from_the_run_log_and_file_times():
    base = {"start_step": 0, "network": {"steps": 100}}
    assert run_status(None, 1000.0, 1010.0) == "training"
    assert run_status(None, 1000.0, 5000.0) == "finished"
    assert run_status(RunLog(history=[dict(base)]), 1000.0, 1010.0) == "training"
    assert run_status(RunLog(history=[dict(base)]), 1000.0, 5000.0) == "stale"
    assert run_status(RunLog(history=[{**base, "finished": "x", "end_step": 100}]), 0, 9e9) == "finished"
    assert run_status(RunLog(history=[{**base, "finished": "x", "end_step": 40}]), 0, 9e9) == "failed"
    assert run_status(RunLog(history=[{**base, "finished": "x", "end_step": 40, "stopped": True}]), 0, 9e9) == "stopped"


def test_scalars_export_equals_each_runs_scalars(folder, parent):
    out = io.StringIO()
    count = export_csv(folder.scalars(["sweep/small", "keras"]), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count
    expected = []
    for name in ("sweep/small", "keras"):
        for run, tags in read_scalars(parent / name).items():
            prefix = name if run == "." else f"{name}/{run}"
            for tag, s in tags.items():
                expected += [(prefix, tag, int(a), float(b)) for a, b in zip(s.steps, s.values, strict=True)]
    got = [(r["run"], r["tag"], int(r["step"]), float(r["value"])) for r in rows]
    assert sorted(got) == sorted(expected)


def test_table_csv_has_a_row_per_run(folder, tmp_path):
    rows = folder.rows()
    columns = table_columns(rows)
    write_table_csv(rows, columns, tmp_path / "t.csv")
    read = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [r["run"] for r in read] == [r.name for r in rows]
    assert read[3]["best accuracy"] == repr(rows[3].accuracy.best)


def test_a_new_run_shows_up_at_the_next_poll_and_an_idle_poll_changes_nothing(parent, tmp_path):
    copy = tmp_path / "parent"
    shutil.copytree(parent / "sweep", copy)
    live = RunsFolder(copy)
    assert live.poll() == {"small", "wide"}
    assert live.poll() == set()
    shutil.copytree(parent / "estimator", copy / "later" / "estimator")
    assert live.poll() == {"later/estimator"}
    shutil.rmtree(copy / "wide")
    assert live.poll() == {"wide"}
    assert [r.name for r in live.rows()] == ["later/estimator", "small"]


def test_a_folder_of_runs_in_a_bucket_reads_as_the_local_copy(bucket_url, parent):
    from emulators import upload

    url = f"{bucket_url}/experiments"
    upload(parent / "sweep", f"{url}/sweep")
    upload(parent / "estimator", f"{url}/estimator")
    remote = RunsFolder(url)
    assert remote.poll() == {"estimator", "sweep/small", "sweep/wide"}
    local = RunsFolder(parent)
    local.poll()
    for row in remote.rows():
        mine = local.row(row.name)
        assert (row.spec, row.steps, row.checkpoints, row.healthy, row.disk_bytes) == (
            mine.spec,
            mine.steps,
            mine.checkpoints,
            mine.healthy,
            mine.disk_bytes,
        )
        assert (row.accuracy, row.loss) == (mine.accuracy, mine.loss)
    assert remote.poll() == set()
    upload(parent / "sweep" / "wide", f"{url}/later/wide")
    assert remote.poll() == {"later/wide"}


@pytest.mark.parametrize("span", [200, 300, 1000])
def test_the_ends_of_an_event_file_give_what_reading_it_all_gives(parent, span):
    """Every file, cut anywhere: when read_ends calls its answer exact, the full read agrees."""
    exact = 0
    for path in sorted(parent.rglob("*tfevents*")):
        ends = read_ends(str(path), path.stat().st_size, span)
        series = list(read_scalars(path).get(".", {}).values())
        if not ends.exact:
            continue
        exact += path.stat().st_size > span  # the tail read from inside a record, resynced
        assert ends.last_step == max(int(s.steps[-1]) for s in series), path
        assert ends.first_wall == min(float(s.wall_times[0]) for s in series), path
        assert ends.last_wall == max(float(s.wall_times[-1]) for s in series), path
    assert exact >= 2  # our trainer's and Keras' files at least; Estimator's head is a graph (read whole instead)


def test_a_table_read_from_the_files_ends_equals_the_full_read(parent, monkeypatch):
    monkeypatch.setattr("ckptgui.workspace.runs.END_SPAN", 300)  # the fixture's files are a few KiB
    from_ends = RunsFolder(parent)
    from_ends.poll()
    rows = from_ends.rows()
    assert not from_ends.loaded("sweep/small") and not from_ends.series("sweep/small").get("loss")
    whole = RunsFolder(parent)
    whole.load(["."])
    whole.poll()
    assert all(whole.loaded(r.name) for r in rows)
    columns = table_columns(rows)
    assert columns == table_columns(whole.rows())
    assert [[r.value(c) for c in columns] for r in rows] == [[r.value(c) for c in columns] for r in whole.rows()]
    from_ends.load(["sweep/small"])  # selected for the plots: every point read from then on
    assert "sweep/small" in from_ends.poll()
    assert from_ends.loaded("sweep/small")
    assert len(from_ends.series("sweep/small")["loss"]) == len(whole.series("sweep/small")["loss"])
    assert from_ends.row("sweep/small").steps == whole.row("sweep/small").steps
