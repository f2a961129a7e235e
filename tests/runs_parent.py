"""A folder of runs shared by the runs tests: two engine runs with different specs, Estimator's and Keras' fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR, KERAS

from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig

SPECS = {
    "sweep/small": NetworkConfig(hidden_units=[10, 10], learning_rate=0.05, steps=60),
    "sweep/wide": NetworkConfig(hidden_units=[20, 20], learning_rate=0.1, steps=60),
}


def runs_parent(factory: pytest.TempPathFactory) -> Path:
    """Trained once per session; tests only read it (copy it to change it)."""
    parent = factory.getbasetemp() / "runs_parent"
    if not parent.exists():
        from ckptgui.engine.training import Trainer

        staging = factory.getbasetemp() / "runs_parent_staging"
        for name, network in SPECS.items():
            spec = RunSpec(
                network=network,
                schedule=ScheduleConfig(save_checkpoints_steps=30, save_summary_steps=10),
                model_dir=str(staging / name),
                seed=1,
            )
            Trainer(spec).run()
        shutil.copytree(ESTIMATOR, staging / "estimator")
        shutil.copytree(KERAS, staging / "keras")
        staging.rename(parent)
    return parent
