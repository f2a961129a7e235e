"""Which checkpoints a model_dir keeps, and why: latest N, best K, every N hours, pinned.

TensorFlow-free, so the window can explain "why kept" for any directory.
``Retention`` is what the trainer calls after each save; it maintains the
``checkpoint`` state file itself (``tf.train.CheckpointManager`` would delete
every listed checkpoint it did not write, tensorflow#34234) and only ever
deletes checkpoints listed in ``ckptgui_written.txt`` — never a foreign one,
never a pinned one. The state file is rewritten before any file is deleted,
so it never names a checkpoint that is gone.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ckptgui.formats.statefile import CheckpointState, StateFileError, read_state, write_state
from ckptgui.modeldir.config import ScheduleConfig
from ckptgui.modeldir.records import (
    LedgerReader,
    RunLog,
    read_pins,
    read_run_log,
    read_written,
    record_written,
    write_run_log,
)

CHECKPOINT_BASENAME = "model.ckpt"

KEPT_LATEST = "latest"
KEPT_BEST = "best"
KEPT_HOURS = "every N hours"
KEPT_PINNED = "pinned"
KEPT_FOREIGN = "not written by ckptgui"


def checkpoint_prefix(model_dir: Path, step: int) -> Path:
    return model_dir / f"{CHECKPOINT_BASENAME}-{step}"


def step_of(prefix: str | Path) -> int | None:
    """The global step in a ``…-<step>`` prefix name, or None."""
    tail = Path(prefix).name.rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def read_state_or_none(model_dir: Path) -> CheckpointState | None:
    """The state file, or None when it is absent or damaged (the inspector reports the damage)."""
    try:
        return read_state(model_dir)
    except StateFileError:
        return None


def checkpoints_on_disk(model_dir: Path) -> list[Path]:
    """Prefixes of ``<name>-<step>.index`` files in ``model_dir``, by step (oldest first)."""
    found = [(step_of(p.name[: -len(".index")]), p.with_suffix("")) for p in model_dir.glob("*-*.index")]
    return [prefix for step, prefix in sorted((s, p) for s, p in found if s is not None)]


def resolve(model_dir: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else model_dir / candidate


@dataclass
class Policy:
    keep_max: int | None
    keep_every_secs: float
    keep_best: int = 0
    best_metric: str = "accuracy"

    @classmethod
    def from_schedule(cls, schedule: ScheduleConfig) -> Policy:
        return cls(
            schedule.keep_checkpoint_max,
            schedule.keep_checkpoint_every_n_hours * 3600,
            schedule.keep_best_max,
            schedule.best_metric,
        )

    def best_steps(self, metrics: dict[int, dict[str, float]], candidates: list[int]) -> set[int]:
        """The ``keep_best`` candidates with the best metric (highest accuracy, lowest loss)."""
        if not self.keep_best:
            return set()
        scored = [s for s in candidates if self.best_metric in metrics.get(s, {})]
        sign = -1.0 if self.best_metric == "loss" else 1.0
        scored.sort(key=lambda s: (sign * metrics[s][self.best_metric], s), reverse=True)
        return set(scored[: self.keep_best])


class Retention:
    """Keeps the state file and the directory in line with the policy, one save at a time."""

    def __init__(self, model_dir: Path, schedule: ScheduleConfig, log: RunLog) -> None:
        self.model_dir = model_dir
        self.policy = Policy.from_schedule(schedule)
        self.log = log
        try:
            state = read_state(model_dir) or CheckpointState()
        except StateFileError:  # damaged: start again from what is on disk, deleting nothing
            state = CheckpointState(all_model_checkpoint_paths=[p.name for p in checkpoints_on_disk(model_dir)])
        self.paths = list(state.all_model_checkpoint_paths)
        self.timestamps = list(state.all_model_checkpoint_timestamps)
        if len(self.timestamps) != len(self.paths):
            self.timestamps = [_mtime(resolve(model_dir, p)) for p in self.paths]
        self.last_preserved = state.last_preserved_timestamp or time.time()
        self.ours, self.metrics = read_written(model_dir)

    def has_checkpoint(self, step: int) -> bool:
        prefix = checkpoint_prefix(self.model_dir, step)
        return Path(f"{prefix}.index").exists() and any(resolve(self.model_dir, p) == prefix for p in self.paths)

    def record(self, step: int, prefix: Path, metrics: dict[str, float]) -> list[tuple[int, Path]]:
        """Add a new checkpoint to the state file, sweep what the policy allows; returns what was deleted."""
        relative = prefix.name
        if relative in self.paths:
            index = self.paths.index(relative)
            del self.paths[index], self.timestamps[index]
        self.paths.append(relative)
        self.timestamps.append(time.time())
        record_written(self.model_dir, step, metrics)
        self.ours.add(step)
        self.metrics[step] = metrics
        swept = self._sweep()
        write_state(
            self.model_dir,
            CheckpointState(relative, list(self.paths), list(self.timestamps), self.last_preserved),
        )
        for _, gone in swept:
            _delete_checkpoint_files(gone)
        return swept

    def _sweep(self) -> list[tuple[int, Path]]:
        if not self.policy.keep_max:
            return []
        pinned = read_pins(self.model_dir)
        ours = [i for i, path in enumerate(self.paths) if step_of(path) in self.ours]
        ours_steps = [step_of(self.paths[i]) for i in ours]
        keep = set(ours[-self.policy.keep_max :])
        best = self.policy.best_steps(self.metrics, [s for s in ours_steps if s is not None])
        dropped: set[int] = set()
        swept: list[tuple[int, Path]] = []
        for index in ours:
            step = step_of(self.paths[index])
            if index in keep or step in pinned or step in best or step is None:
                continue
            dropped.add(index)
            if self.timestamps[index] - self.last_preserved >= self.policy.keep_every_secs:
                self.last_preserved = self.timestamps[index]  # kept for good, no longer managed
                self.log.preserved.append(step)
                write_run_log(self.model_dir, self.log)
            else:
                swept.append((step, resolve(self.model_dir, self.paths[index])))
        self.paths = [p for i, p in enumerate(self.paths) if i not in dropped]
        self.timestamps = [t for i, t in enumerate(self.timestamps) if i not in dropped]
        return swept


def why_kept(model_dir: str | Path, ledger: LedgerReader | None = None) -> dict[int, list[str]]:
    """For each checkpoint step on disk or listed: the reasons it is kept (for the directory view).

    A caller that asks again and again passes its ``LedgerReader`` for the model_dir.
    """
    model_dir = Path(model_dir)
    state = read_state_or_none(model_dir) or CheckpointState()
    log = read_run_log(model_dir) or RunLog()
    policy = Policy.from_schedule(log.spec.schedule if log.spec else ScheduleConfig())
    metrics = (ledger or LedgerReader(model_dir)).read()
    ours = metrics.keys()
    pinned = read_pins(model_dir)
    listed = [s for s in (step_of(p) for p in state.all_model_checkpoint_paths) if s is not None]
    on_disk = {s for s in (step_of(p.name[: -len(".index")]) for p in model_dir.glob("*.index")) if s is not None}
    listed_ours = [s for s in listed if s in ours]
    latest = set(listed_ours[-policy.keep_max :]) if policy.keep_max else set(listed_ours)
    best = policy.best_steps(metrics, listed_ours)
    reasons: dict[int, list[str]] = {}
    for step in sorted(on_disk | set(listed)):
        why = []
        if step in pinned:
            why.append(KEPT_PINNED)
        if step not in ours:
            why.append(KEPT_FOREIGN)
        if step in latest:
            why.append(f"{KEPT_LATEST} {policy.keep_max}" if policy.keep_max else KEPT_LATEST)
        if step in best:
            why.append(f"{KEPT_BEST} {policy.keep_best} by {policy.best_metric}")
        if step in log.preserved:
            why.append(KEPT_HOURS)
        reasons[step] = why
    return reasons


def _mtime(prefix: Path) -> float:
    try:
        return Path(f"{prefix}.index").stat().st_mtime
    except OSError:
        return time.time()


def _delete_checkpoint_files(prefix: Path) -> None:
    """Only the checkpoint's own ``.index`` and ``.data-*`` shards: nothing else that shares the name.

    A plain scan, not ``Path.glob`` (which compiles a pattern per call: GIL time at every sweep).
    """
    index, shard = f"{prefix.name}.index", f"{prefix.name}.data-"
    with os.scandir(prefix.parent) as entries:
        doomed = [entry.path for entry in entries if entry.name == index or entry.name.startswith(shard)]
    for path in doomed:
        Path(path).unlink(missing_ok=True)
