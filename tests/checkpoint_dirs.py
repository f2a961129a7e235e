"""Model_dirs the checkpoint read-path tests share: the committed fixtures and one written by our engine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ckptgui.engine.training import Trainer
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.scan import CheckpointInfo
from ckptgui.storage import LOCAL

FIXTURES = Path(__file__).parent / "fixtures"
ESTIMATOR = FIXTURES / "estimator_dnn_iris"
ESTIMATOR_20 = FIXTURES / "estimator_dnn_iris_20x20"
MANAGER = FIXTURES / "tf2_manager"
KERAS = FIXTURES / "keras_callbacks"


def trained_model_dir(factory: pytest.TempPathFactory) -> Path:
    """A model_dir written by our engine: Iris, [10, 10], checkpoints at 0, 100, 200; trained once per session."""
    model_dir = factory.getbasetemp() / "ours" / "model"
    if not model_dir.exists():
        spec = RunSpec(
            network=NetworkConfig(steps=200),
            schedule=ScheduleConfig(save_checkpoints_steps=100),
            model_dir=str(model_dir),
            seed=1,
        )
        Trainer(spec).run()
    return model_dir


def copy_of(model_dir: Path, tmp_path: Path) -> Path:
    """A copy to damage; committed and shared model_dirs are only read."""
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy


def count_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder listed through the storage seam from now on, in order (the list fills as the test runs)."""
    listed: list[str] = []
    listdir = LOCAL.listdir

    def counting(path: str | os.PathLike) -> list:
        listed.append(os.fspath(path))
        return listdir(path)

    monkeypatch.setattr(LOCAL, "listdir", counting)
    return listed


def by_step(infos: list[CheckpointInfo]) -> dict[int | None, CheckpointInfo]:
    return {c.step: c for c in infos}
