"""Continuing from one checkpoint in a new model_dir copies only that checkpoint and names it in a fresh state file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ckptgui.formats.statefile import read_state
from ckptgui.modeldir.config import RunSpec
from ckptgui.modeldir.fork import copy_checkpoint
from ckptgui.modeldir.records import RunLog, read_run_log, write_run_log
from ckptgui.modeldir.scan import scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_copies_one_checkpoint_and_a_state_file_naming_only_it(tmp_path: Path):
    source = scan(FIXTURES / "estimator_dnn_iris").checkpoint(100)
    new_dir = tmp_path / "continued"
    prefix = copy_checkpoint(source, str(new_dir))
    assert prefix == str(new_dir / "model.ckpt-100")
    state = read_state(new_dir)
    assert state.model_checkpoint_path == "model.ckpt-100"
    assert state.all_model_checkpoint_paths == ["model.ckpt-100"]
    assert sorted(p.name for p in new_dir.iterdir()) == sorted([*source.files, "checkpoint"])
    assert [c.step for c in scan(new_dir).checkpoints] == [100]


def test_refuses_a_folder_that_already_holds_checkpoints(tmp_path: Path):
    source = scan(FIXTURES / "estimator_dnn_iris").checkpoint(100)
    copy_checkpoint(source, str(tmp_path))
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        copy_checkpoint(source, str(tmp_path))


def test_a_ckptgui_source_gives_the_copy_its_config_and_feature_names_not_its_history(tmp_path: Path):
    source_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "estimator_dnn_iris", source_dir)
    data = {"feature_names": ["b", "a", "c", "d"], "class_names": ["x", "y", "z"]}
    write_run_log(source_dir, RunLog(spec=RunSpec(model_dir=str(source_dir)), data=data, history=[{"steps": 100}]))
    new_dir = tmp_path / "continued"
    copy_checkpoint(scan(source_dir).checkpoint(100), str(new_dir))
    log = read_run_log(new_dir)
    assert log.data == data and log.spec is not None
    assert log.history == [] and log.preserved == []
