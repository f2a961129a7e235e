"""``ckptgui scalars PATH [--json] [--csv FILE]`` on real event files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import pytest

from ckptgui.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
KERAS = FIXTURES / "keras_callbacks"


def keras_points() -> dict[str, dict[str, list[tuple[int, float]]]]:
    """run -> tag -> [(step, value)] as the fixture generator read them back with TensorFlow."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for relpath, points in json.loads((KERAS / "expected.json").read_text())["event_scalars"].items():
        run = (Path("logs") / relpath).parent.as_posix()  # the generator listed the files under logs/
        for p in points:
            out.setdefault(run, {}).setdefault(p["tag"], []).append((p["step"], p["value"]))
    return out


def test_table_summarises_every_run_and_tag(capsys):
    assert main(["scalars", str(KERAS)]) == 0
    out = capsys.readouterr().out
    expected = keras_points()
    assert set(expected) == {"logs/train", "logs/validation"}
    sections = {block.splitlines()[0]: block.splitlines()[2:] for block in out.strip().split("\n\n")}
    assert list(sections) == [f"run {run}" for run in expected]
    for run, tags in expected.items():
        assert len(sections[f"run {run}"]) == len(tags)
        for tag, points in tags.items():
            values = [v for _, v in points]
            line = next(line for line in sections[f"run {run}"] if line.split()[0] == tag)
            assert line.split()[1:] == [
                str(len(points)),
                str(points[0][0]),
                str(points[-1][0]),
                f"{values[-1]:.6g}",
                f"{min(values):.6g}",
                f"{max(values):.6g}",
            ]


def test_json_has_the_documented_shape(capsys):
    assert main(["scalars", str(KERAS), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = {
        run: {
            "tags": {
                tag: {
                    "count": len(points),
                    "first_step": points[0][0],
                    "last_step": points[-1][0],
                    "last_value": points[-1][1],
                    "min": min(v for _, v in points),
                    "max": max(v for _, v in points),
                }
                for tag, points in tags.items()
            }
        }
        for run, tags in keras_points().items()
    }
    assert doc == {"runs": expected, "skipped_records": 0}


def test_json_for_one_run_folder_and_one_file(capsys):
    run_dir = FIXTURES / "estimator_dnn_iris" / "eval"
    assert main(["scalars", str(run_dir), "--json"]) == 0
    by_dir = json.loads(capsys.readouterr().out)
    (event_file,) = run_dir.glob("events.out.tfevents.*")
    assert main(["scalars", str(event_file), "--json"]) == 0
    by_file = json.loads(capsys.readouterr().out)
    assert by_dir == by_file
    assert list(by_dir["runs"]) == ["."]
    assert by_dir["runs"]["."]["tags"]["accuracy"]["last_value"] == pytest.approx(1 / 3)


def test_csv_holds_every_point(tmp_path, capsys):
    out_file = tmp_path / "points.csv"
    assert main(["scalars", str(KERAS), "--csv", str(out_file)]) == 0
    expected = keras_points()
    total = sum(len(points) for tags in expected.values() for points in tags.values())
    assert capsys.readouterr().out == f"wrote {total} points of 7 series to {out_file}\n"
    with open(out_file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    got: dict = {}
    for row in rows:
        got.setdefault(row["run"], {}).setdefault(row["tag"], []).append((int(row["step"]), float(row["value"])))
        assert float(row["wall_time"]) > 1.5e9
    assert got == expected


def test_csv_to_stdout_and_json_with_csv_file(tmp_path, capsys):
    assert main(["scalars", str(FIXTURES / "tf1_events"), "--csv", "-"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["run", "tag", "step", "wall_time", "value"] and len(rows) == 1 + 100
    out_file = tmp_path / "tf1.csv"
    assert main(["scalars", str(FIXTURES / "tf1_events"), "--json", "--csv", str(out_file)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"]["."]["tags"]["loss"]["count"] == 50
    assert len(out_file.read_text().splitlines()) == 101


def test_non_finite_values_are_null_in_json(tmp_path, capsys):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step, value in enumerate([1.0, math.nan, 0.5, math.inf]):
            tf.summary.scalar("loss", value, step=step)
        tf.summary.scalar("diverged", math.nan, step=0)
    writer.close()
    assert main(["scalars", str(tmp_path), "--json"]) == 0
    tags = json.loads(capsys.readouterr().out)["runs"]["."]["tags"]
    assert tags["loss"] == {"count": 4, "first_step": 0, "last_step": 3, "last_value": None, "min": 0.5, "max": 1.0}
    assert tags["diverged"]["min"] is None and tags["diverged"]["last_value"] is None
    assert main(["scalars", str(tmp_path)]) == 0
    assert "loss" in capsys.readouterr().out


def test_damaged_file_warns_and_still_reports(tmp_path, capsys):
    (source,) = (FIXTURES / "tf1_events").glob("events.out.tfevents.*")
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / source.name
    damaged.write_bytes(bytes(data))
    assert main(["scalars", str(damaged), "--json"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 damaged record(s)" in captured.err
    doc = json.loads(captured.out)
    assert doc["skipped_records"] == 1
    tags = doc["runs"]["."]["tags"]
    assert tags["loss"]["count"] == tags["accuracy"]["count"] == 49  # one Event held both values of a step


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing"], "missing: no such file or directory"),
        (["{tmp}/empty"], "empty: no events.out.tfevents.* files in it or below it"),
        (["{tmp}/notes.txt"], "notes.txt: not an event file"),
        (["{tmp}/events.out.tfevents.1.garbage"], "holds no valid event record"),
        ([str(KERAS), "--json", "--csv", "-"], "--json and --csv - would both write to standard output"),
        ([str(KERAS), "--csv", "{tmp}/no/such/dir/out.csv"], "cannot write {tmp}/no/such/dir/out.csv"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not events\n" * 10)
    (tmp_path / "events.out.tfevents.1.garbage").write_bytes(os.urandom(300))
    tmp = str(tmp_path)
    assert main(["scalars", *(a.format(tmp=tmp) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ckptgui scalars: ") and message.format(tmp=tmp) in err
