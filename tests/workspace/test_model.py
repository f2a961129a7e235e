"""The window's state without a window: opening a model_dir, snapshots, swept steps, selection, run spec."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from ckptgui.formats.statefile import CheckpointState, read_state, write_state
from ckptgui.modeldir.config import NetworkConfig, RunSpec
from ckptgui.modeldir.records import RunLog, write_run_log
from ckptgui.workspace.model import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def recorder(workspace: Workspace) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    for name in ("model_dir_changed", "snapshot_changed", "checkpoints_appeared", "selection_changed",
                 "run_spec_changed", "training_changed"):  # fmt: skip
        getattr(workspace, name).connect(lambda value, name=name: events.append((name, value)))
    return events


def copy_fixture(tmp_path: Path, name: str = "estimator_dnn_iris") -> Path:
    model_dir = tmp_path / name
    shutil.copytree(FIXTURES / name, model_dir)
    return model_dir


def test_opening_resolves_the_path_and_emits_once(tmp_path: Path, monkeypatch):
    workspace = Workspace()
    events = recorder(workspace)
    monkeypatch.chdir(tmp_path)
    assert workspace.set_model_dir(" run ")
    assert workspace.model_dir == str((tmp_path / "run").resolve())
    assert not workspace.set_model_dir(str(tmp_path / "run"))
    assert events == [("model_dir_changed", workspace.model_dir)]
    assert workspace.set_model_dir("")
    assert workspace.model_dir is None and workspace.look() is None


def test_snapshots_track_appearing_and_swept_checkpoints(tmp_path: Path):
    model_dir = copy_fixture(tmp_path)
    workspace = Workspace()
    workspace.set_model_dir(str(model_dir))
    events = recorder(workspace)
    workspace.apply_snapshot(workspace.look())
    assert workspace.steps() == [0, 100, 200]
    assert [c.step for c in workspace.checkpoints()] == [0, 100, 200]
    assert [name for name, _ in events] == ["snapshot_changed", "checkpoints_appeared"]
    assert events[0][1] is workspace.snapshot
    assert [a.step for a in events[1][1]] == [0, 100, 200]
    assert workspace.look() is None  # nothing changed on disk

    workspace.select(workspace.checkpoints()[0].prefix)
    for path in model_dir.glob("model.ckpt-0.*"):
        path.unlink()  # swept as retention does it: files gone, and no longer listed in the state file
    state = read_state(model_dir)
    write_state(model_dir, CheckpointState(state.model_checkpoint_path, state.all_model_checkpoint_paths[1:]))
    events.clear()
    workspace.apply_snapshot(workspace.look())
    assert workspace.steps() == [100, 200]
    assert workspace.swept_steps == {0}
    assert workspace.selected_prefix is None  # the selected checkpoint was swept
    assert [name for name, _ in events] == ["selection_changed", "snapshot_changed"]


def test_a_snapshot_of_a_previous_model_dir_is_dropped(tmp_path: Path):
    first, second = copy_fixture(tmp_path), copy_fixture(tmp_path, "tf2_manager")
    workspace = Workspace()
    workspace.set_model_dir(str(first))
    stale = workspace.look()
    workspace.set_model_dir(str(second))
    workspace.apply_snapshot(stale)
    assert workspace.snapshot is None and workspace.steps() == []
    workspace.apply_snapshot(workspace.look())
    assert workspace.steps() == [3, 4, 5]


def test_the_run_spec_comes_from_the_run_log(tmp_path: Path):
    workspace = Workspace()
    events = recorder(workspace)
    workspace.set_model_dir(str(tmp_path))
    assert workspace.load_run_spec() == "" and workspace.run_spec is None
    spec = replace(RunSpec(), network=NetworkConfig(hidden_units=[7, 5]), model_dir=str(tmp_path))
    write_run_log(tmp_path, RunLog(spec=spec))
    assert workspace.load_run_spec() == ""
    assert workspace.run_spec is not None and list(workspace.run_spec.network.hidden_units) == [7, 5]
    assert events[-1] == ("run_spec_changed", workspace.run_spec)


def test_training_state_emits_on_change_only():
    workspace = Workspace()
    events = recorder(workspace)
    workspace.set_training(True)
    workspace.set_training(True)
    workspace.set_training(False)
    assert events == [("training_changed", True), ("training_changed", False)]
