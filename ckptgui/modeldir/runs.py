"""Many model_dirs under one folder: which folders are runs, one table row per run, what changed between two.

Plain functions over what the readers already give (listings, :class:`~ckptgui.modeldir.scan.ModelDirInfo`, the
run log, scalar series), so the CLI (``ckptgui runs``) and the window's runs view show the same values.

A folder is a run (a model_dir) when it holds checkpoints (a ``checkpoint`` state file, ``*.index`` or Keras
``*.weights.h5``), ckptgui's run log, or event files. Event files in a folder named ``eval``, ``train`` or
``validation`` (Estimator's evaluation, Keras' TensorBoard callback) belong to the folder above, and a folder
holding only event files belongs to the nearest run above it (Keras' ``logs/``): so ours, Estimator's, Keras'
and a TensorBoard log tree each read as one row per training run.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from ckptgui.formats.events.runs import FileEnds, is_event_file
from ckptgui.formats.events.series import ScalarSeries
from ckptgui.formats.statefile import STATE_FILENAME
from ckptgui.modeldir.layout import H5_SUFFIX, INDEX_FILE
from ckptgui.modeldir.records import RUN_FILENAME, RunLog
from ckptgui.modeldir.scan import ModelDirInfo
from ckptgui.storage import FileInfo

SUB_RUNS = frozenset({"eval", "train", "validation"})  # event folders of a model_dir, not runs of their own
EVAL_RUNS = ("eval", "validation")  # where evaluation metrics are written (Estimator and ours; Keras)
ACCURACY_TAGS = ("accuracy", "epoch_accuracy")
LOSS_TAGS = ("loss", "epoch_loss")
MAX_DEPTH = 6  # folders deeper than this below the parent are not looked at for runs
STALE_S = 120.0  # a run that wrote nothing for this long while its log says it trains is stale
STATUSES = ("training", "finished", "stopped", "failed", "stale")


def folder_kind(entries: Iterable[FileInfo]) -> str:
    """``checkpoints`` when a folder's entries make it a model_dir, ``events`` when only event files do, else ""."""
    kind = ""
    for entry in entries:
        if entry.is_dir:
            continue
        name = entry.name
        if name in (STATE_FILENAME, RUN_FILENAME) or INDEX_FILE.match(name) or name.endswith(H5_SUFFIX):
            return "checkpoints"
        if is_event_file(name):
            kind = "events"
    return kind


def _parent(relative: str) -> str:
    head, sep, _ = relative.rpartition("/")
    return head if sep else "."


def _name(relative: str) -> str:
    return relative.rpartition("/")[2]


def group_runs(kinds: Mapping[str, str]) -> dict[str, str]:
    """Folder (relative to the parent, ``/``-separated, ``.`` for it) -> the run it belongs to, for marked folders.

    ``kinds`` maps folders to :func:`folder_kind`; folders with an empty kind are left out of the result.
    """
    marked = {folder: kind for folder, kind in kinds.items() if kind and folder.count("/") < MAX_DEPTH}
    owner: dict[str, str] = {}
    for folder, kind in marked.items():
        if kind == "events" and folder != "." and _name(folder) in SUB_RUNS:
            owner[folder] = _parent(folder)
        else:
            owner[folder] = folder
    for folder, run in owner.items():
        if marked.get(run) == "checkpoints":
            continue
        ancestor = run  # an events-only run inside another run (Keras' logs/) belongs to that run
        while ancestor != ".":
            ancestor = _parent(ancestor)
            if marked.get(ancestor) == "checkpoints":
                owner[folder] = ancestor
                break
    return owner


def sub_run(event_run: str, run: str) -> str:
    """The event run's folder inside its run: ``.`` for the run itself, else e.g. ``eval`` or ``logs/train``."""
    if event_run == run:
        return "."
    return event_run[len(run) + 1 :] if run != "." else event_run


def plot_tag(sub: str, tag: str) -> str:
    """The name a series is plotted and exported under within its run: ``loss``, ``eval/accuracy``."""
    return tag if sub == "." else f"{sub}/{tag}"


@dataclass
class Metric:
    """Last and best value of one evaluation metric, with their steps."""

    last: float | None = None
    last_step: int | None = None
    best: float | None = None
    best_step: int | None = None


def metric_of(series: ScalarSeries | None, higher_is_better: bool) -> Metric:
    if series is None or not len(series):
        return Metric()
    values = series.values
    finite = np.flatnonzero(np.isfinite(values))
    if not finite.size:
        return Metric(float(values[-1]), int(series.steps[-1]))
    pick = finite[np.argmax(values[finite])] if higher_is_better else finite[np.argmin(values[finite])]
    return Metric(float(values[-1]), int(series.steps[-1]), float(values[pick]), int(series.steps[pick]))


def eval_series(series: Mapping[str, ScalarSeries], names: tuple[str, ...]) -> ScalarSeries | None:
    """The run's evaluation series of a metric, by plotted tag (``eval/accuracy``, ``logs/validation/epoch_loss``)."""
    for name in names:
        for key, found in series.items():
            sub, _, tag = key.rpartition("/")
            if tag == name and _name(sub) in EVAL_RUNS and len(found):
                return found
    return None


def flat_spec(log: RunLog | None) -> dict[str, Any]:
    """What a run was made with, one level deep: network and schedule fields, data, seed, versions."""
    if log is None or log.spec is None:
        return {}
    spec = log.spec.to_dict()
    flat: dict[str, Any] = {**spec["network"], **spec["schedule"]}
    flat["data"] = spec["data"]["source"]
    flat["label_column"] = spec["data"]["label_column"]
    last = log.history[-1] if log.history else {}
    flat["data_sha256"] = last.get("data_sha256") or log.data.get("sha256")
    flat["seed"] = spec["seed"]
    flat["distribution"] = spec["distribution"]
    for package, version in (last.get("versions") or {}).items():
        flat[package] = version
    return flat


def run_status(log: RunLog | None, newest_mtime: float, now: float) -> str:
    """training / finished / stopped / failed / stale, from the run log's last train call and the file times.

    The trainer records ``finished`` (and the step it reached) when a train call ends, also when it raised: a
    call that ended short of its target without a stop request failed. A call with no end recorded is training
    while files keep changing, and stale (the process died) once nothing changed for :data:`STALE_S`. A folder
    without ckptgui's run log is training while it changes, else finished.
    """
    recent = now - newest_mtime < STALE_S
    last = log.history[-1] if log is not None and log.history else None
    if last is None:
        return "training" if recent else "finished"
    if "finished" not in last:
        return "training" if recent else "stale"
    if last.get("stopped"):
        return "stopped"
    target = int(last.get("start_step") or 0) + int((last.get("network") or {}).get("steps") or 0)
    end = last.get("end_step")
    return "failed" if end is not None and int(end) < target else "finished"


@dataclass
class RunRow:
    """One row of the runs table."""

    name: str  # path relative to the parent folder ("." for the parent itself)
    path: str
    status: str
    spec: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    checkpoints: int = 0
    healthy: int = 0
    damaged: int = 0
    accuracy: Metric = field(default_factory=Metric)
    loss: Metric = field(default_factory=Metric)
    wall_time_s: float | None = None
    disk_bytes: int = 0
    problem: str = ""

    @property
    def best_step(self) -> int | None:
        """The step of the run's best checkpoint by evaluation: highest accuracy, else lowest loss."""
        return self.accuracy.best_step if self.accuracy.best_step is not None else self.loss.best_step

    def value(self, column: str) -> Any:
        """The cell of ``column`` as a plain value (None when unknown): for sorting, JSON and CSV."""
        if column in FIXED_COLUMNS:
            return FIXED_COLUMNS[column](self)
        return self.spec.get(column)


def make_row(
    name: str,
    path: str,
    info: ModelDirInfo | None,
    log: RunLog | None,
    series: Mapping[str, ScalarSeries],
    files: Iterable[FileInfo],
    now: float,
    problem: str = "",
    ends: Iterable[FileEnds] = (),
) -> RunRow:
    """One run's row from its scan, run log, series (by plotted tag) and the file entries below it.

    ``ends`` stand for the event files whose points were not read (:func:`~ckptgui.formats.events.runs.read_ends`):
    their last step and wall-time span count as their series' would.
    """
    files = list(files)
    ends = list(ends)
    newest = max((f.mtime for f in files), default=0.0)
    checkpoints = info.checkpoints if info is not None else []
    steps = [c.step for c in checkpoints if c.step is not None]
    steps += [int(s.steps[-1]) for s in series.values() if len(s)]
    steps += [e.last_step for e in ends if e.last_step is not None]
    walls = [(float(s.wall_times[0]), float(s.wall_times[-1])) for s in series.values() if len(s)]
    walls += [(e.first_wall, e.last_wall) for e in ends if e.first_wall is not None and e.last_wall is not None]
    return RunRow(
        name=name,
        path=path,
        status=run_status(log, newest, now),
        spec=flat_spec(log),
        steps=max(steps) if steps else None,
        checkpoints=len(checkpoints),
        healthy=sum(c.usable for c in checkpoints),
        damaged=sum(not c.usable for c in checkpoints),
        accuracy=metric_of(eval_series(series, ACCURACY_TAGS), higher_is_better=True),
        loss=metric_of(eval_series(series, LOSS_TAGS), higher_is_better=False),
        wall_time_s=max(w[1] for w in walls) - min(w[0] for w in walls) if walls else None,
        disk_bytes=sum(f.size for f in files if f.is_file),
        problem=problem or (log.spec_problem if log is not None else ""),
    )


FIXED_COLUMNS = {
    "run": lambda r: r.name,
    "status": lambda r: r.status,
    "step": lambda r: r.steps,  # the last step reached ("steps" is the spec's steps per train call)
    "checkpoints": lambda r: r.checkpoints,
    "healthy": lambda r: r.healthy,
    "damaged": lambda r: r.damaged,
    "last accuracy": lambda r: r.accuracy.last,
    "last accuracy step": lambda r: r.accuracy.last_step,
    "best accuracy": lambda r: r.accuracy.best,
    "best accuracy step": lambda r: r.accuracy.best_step,
    "last loss": lambda r: r.loss.last,
    "last loss step": lambda r: r.loss.last_step,
    "best loss": lambda r: r.loss.best,
    "best loss step": lambda r: r.loss.best_step,
    "wall time s": lambda r: r.wall_time_s,
    "disk bytes": lambda r: r.disk_bytes,
}


def varying_keys(rows: Iterable[RunRow]) -> list[str]:
    """Spec fields whose values differ between the rows with a run log (a field missing from one counts as a value).

    Rows without a run log (Estimator's, Keras') have no spec to compare: they do not make every field differ.
    """
    rows = [row for row in rows if row.spec]
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row.spec))
    return [key for key in keys if len({_shown(row.spec.get(key)) for row in rows}) > 1]


def table_columns(rows: Iterable[RunRow]) -> list[str]:
    """The table's columns: run and status, the spec fields that differ, then the measured ones."""
    rows = list(rows)
    fixed = list(FIXED_COLUMNS)
    return [*fixed[:2], *varying_keys(rows), *fixed[2:]]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def cell_text(row: RunRow, column: str) -> str:
    """A cell as the table and ``ckptgui runs`` show it."""
    value = row.value(column)
    if column == "disk bytes" and value is not None:
        return f"{value / 2**20:.1f} MiB"  # one unit down the column, so sizes compare at a glance
    if column == "wall time s" and value is not None:
        return f"{value:.1f}"
    return _shown(value)


def write_table_csv(rows: Iterable[RunRow], columns: list[str], file: str | os.PathLike[str] | IO[str]) -> int:
    """The runs table as CSV (raw values, full precision); returns the number of rows."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            return write_table_csv(rows, columns, fh)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if row.value(c) is None else _csv_value(row.value(c)) for c in columns])
        count += 1
    return count


def _csv_value(value: Any) -> Any:
    return _shown(value) if isinstance(value, list) else value


def spec_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """What changed from run A's spec to run B's, in plain words.

    ``hidden_units [10, 10] → [20, 20]; learning_rate 0.05 → 0.1; data unchanged``. The data counts as
    unchanged when its source and its sha256 are the same; a field only one run has reads as ``(none)``.
    """
    if not a or not b:
        missing = " and ".join(n for n, s in (("A", a), ("B", b)) if not s)
        return f"no run log in {missing}: nothing recorded to compare"
    data_keys = ("data", "label_column", "data_sha256")
    parts = []
    for key in dict.fromkeys([*a, *b]):
        if key in data_keys:
            continue
        before, after = _shown(a.get(key)) or "(none)", _shown(b.get(key)) or "(none)"
        if before != after:
            parts.append(f"{key} {before} → {after}")
    data_changes = [key for key in data_keys if _shown(a.get(key)) != _shown(b.get(key))]
    if not data_changes:
        parts.append("data unchanged")
    else:
        for key in data_changes:
            before, after = _shown(a.get(key)) or "(none)", _shown(b.get(key)) or "(none)"
            if key == "data_sha256":
                before, after = before[:12], after[:12]
            parts.append(f"{key} {before} → {after}")
    return "; ".join(parts)
