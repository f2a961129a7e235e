"""``ckptgui runs PARENT`` and ``ckptgui scalars PARENT --csv``: the runs table and every run's scalars."""

from __future__ import annotations

import csv
import json

import pytest
from runs_parent import runs_parent

from ckptgui.cli import main
from ckptgui.formats.events import read_scalars


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    return runs_parent(tmp_path_factory)


def test_table_json_and_csv_agree(parent, tmp_path, capsys):
    assert main(["runs", str(parent), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [r["run"] for r in doc["runs"]]
    assert names == ["estimator", "keras", "keras/tf_checkpoint", "sweep/small", "sweep/wide"]
    small = doc["runs"][3]
    assert small["hidden_units"] == [10, 10] and small["status"] == "finished" and small["step"] == 60
    assert main(["runs", str(parent), "--csv", str(tmp_path / "t.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [r["run"] for r in rows] == names and list(rows[0]) == doc["columns"]
    assert main(["runs", str(parent)]) == 0
    out = capsys.readouterr().out
    assert "sweep/wide" in out and "learning_rate" in out


def test_scalars_of_a_parent_export_every_run_without_a_cap(parent, tmp_path, capsys):
    assert main(["scalars", str(parent), "--csv", str(tmp_path / "s.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    expected = sum(len(s) for tags in read_scalars(parent).values() for s in tags.values())
    assert len(rows) == expected
    assert {"sweep/small/eval", "sweep/wide", "estimator/eval", "keras/logs/validation"} <= {r["run"] for r in rows}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "{tmp}/missing"], "no such folder"),
        (["runs", "{tmp}/file.txt"], "not a folder"),
        (["runs", "{tmp}/empty"], "no model_dir in it or below it"),
        (["runs", "{tmp}/empty", "--json", "--csv", "-"], "would both write to standard output"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
