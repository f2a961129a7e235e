"""Which checkpoints a model_dir keeps, and why: latest N, best K, every N hours, pinned.

TensorFlow-free, so the window can explain "why kept" for any directory. One pure function, :func:`judge`,
applies the rules; the sweeper (:class:`Retention`, called by the trainer after each save) and the explainer
(:func:`why_kept`, the directory view's "kept" column) both call it, so what is deleted and what is explained
cannot drift apart.

Guarantees of the sweeper:

* It maintains the ``checkpoint`` state file itself (``tf.train.CheckpointManager`` would delete every listed
  checkpoint it did not write, tensorflow#34234).
* It only ever deletes checkpoints that are listed in the state file *and* recorded in ``ckptgui_written.txt``
  by our runs, and of those only the files the ledger names: inside the model_dir (a state-file path that
  leads elsewhere, ``../other/model.ckpt-100`` or an absolute path into a copied-from folder, is never ours),
  regular files, not links, each still of its recorded size. A step number alone identifies nothing: a
  foreign ``ckpt-3`` is not our ``model.ckpt-3``. Never a pinned one.
* The state file is rewritten before any file is deleted, so it never names a checkpoint that is gone.

Every file access goes through :mod:`ckptgui.storage`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ckptgui.formats.statefile import CheckpointState, StateFileError, read_state, write_state
from ckptgui.modeldir.config import ScheduleConfig
from ckptgui.modeldir.layout import INDEX_FILE, step_of
from ckptgui.modeldir.records import (
    LedgerReader,
    RunLog,
    RunLogError,
    read_ledger,
    read_pins,
    read_run_log,
    record_written,
    write_run_log,
)
from ckptgui.storage import Storage, scheme_of, storage_for

CHECKPOINT_BASENAME = "model.ckpt"

KEPT_LATEST = "latest"
KEPT_BEST = "best"
KEPT_HOURS = "every N hours"
KEPT_PINNED = "pinned"
KEPT_FOREIGN = "not written by ckptgui"


def checkpoint_prefix(model_dir: str | os.PathLike, step: int) -> str:
    """Where the trainer writes the checkpoint of ``step``: ``<model_dir>/model.ckpt-<step>``."""
    return storage_for(model_dir).join(model_dir, f"{CHECKPOINT_BASENAME}-{step}")


def checkpoints_on_disk(model_dir: str | os.PathLike) -> list[str]:
    """Prefixes of the checkpoints (``<name>-<step>.index``) in ``model_dir``, by step (oldest first)."""
    storage = storage_for(model_dir)
    try:
        entries = storage.listdir(model_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = INDEX_FILE.match(entry.name)
        step = step_of(match.group("prefix")) if match and entry.is_file else None
        if step is not None:
            found.append((step, storage.join(model_dir, match.group("prefix"))))
    return [prefix for _, prefix in sorted(found)]


def resolve(model_dir: str | os.PathLike, path: str) -> str:
    """A state-file path as a prefix: relative ones are relative to the model_dir."""
    return path if os.path.isabs(path) else storage_for(model_dir).join(model_dir, path)


def checkpoint_files(model_dir: str | os.PathLike, name: str) -> dict[str, int]:
    """The regular files (not links) of checkpoint ``name`` in ``model_dir`` (``.index``, ``.data-*``) by size."""
    index, shard = f"{name}.index", f"{name}.data-"
    return {
        entry.name: entry.size
        for entry in storage_for(model_dir).listdir(model_dir)
        if (entry.name == index or entry.name.startswith(shard)) and entry.is_file and not entry.is_link
    }


def owned(
    model_dir: str | os.PathLike,
    paths: Iterable[str],
    recorded: Mapping[int, Mapping[str, int]],
    on_disk: Mapping[str, tuple[int, bool]],
) -> dict[str, int]:
    """The state-file paths that are exactly a checkpoint ckptgui wrote here, with its step.

    ``recorded``: the ledger's step -> file name -> size; ``on_disk``: the model_dir's entries, name -> (size,
    is a regular file and not a link). A path is ours when it resolves to ``<model_dir>/<name>`` and every file
    the ledger recorded for its step has that name's prefix and is on disk, a regular file of the recorded size.
    """
    where = os.path.normpath if scheme_of(model_dir) else os.path.abspath  # a URL has no absolute form
    home = where(os.fspath(model_dir))
    found = {}
    for path in paths:
        step = step_of(path)
        files = recorded.get(step) if step is not None else None
        if not files:
            continue
        name = os.path.basename(path)
        if where(resolve(model_dir, path)) != os.path.join(home, name):
            continue
        if all(f.startswith(f"{name}.") and on_disk.get(f) == (size, True) for f, size in files.items()):
            found[path] = step
    return found


def _entries(storage: Storage, model_dir: str | os.PathLike) -> dict[str, tuple[int, bool]]:
    """Name -> (size, regular file and not a link) of what the model_dir holds now."""
    try:
        listing = storage.listdir(model_dir)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {entry.name: (entry.size, entry.is_file and not entry.is_link) for entry in listing}


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

    def best_steps(self, metrics: Mapping[int, Mapping[str, float]], candidates: Iterable[int]) -> set[int]:
        """The ``keep_best`` candidates with the best metric (highest accuracy, lowest loss)."""
        if not self.keep_best:
            return set()
        scored = [s for s in candidates if self.best_metric in metrics.get(s, {})]
        sign = -1.0 if self.best_metric == "loss" else 1.0
        scored.sort(key=lambda s: (sign * metrics[s][self.best_metric], s), reverse=True)
        return set(scored[: self.keep_best])


@dataclass
class Verdict:
    """What :func:`judge` decided. A step with no reasons is swept (when listed) or merely unmanaged."""

    reasons: dict[int, list[str]]  # every step judged -> the rules that keep it, in a fixed order
    swept: list[int] = field(default_factory=list)  # listed steps to delete, in listed order
    preserved: list[int] = field(default_factory=list)  # kept for good now (every N hours): no longer listed
    last_preserved: float = 0.0  # the state file's new last_preserved_timestamp

    @property
    def dropped(self) -> set[int]:
        """The steps that leave the state file: swept and newly preserved."""
        return {*self.swept, *self.preserved}


def judge(
    listed: Sequence[tuple[int, float]],
    unlisted: Iterable[int],
    ours: Collection[int],
    metrics: Mapping[int, Mapping[str, float]],
    pinned: Collection[int],
    preserved: Collection[int],
    policy: Policy,
    last_preserved: float,
) -> Verdict:
    """The retention rules, once, without touching a file.

    ``listed``: (step, save time) of the checkpoints in the state file, in its order (oldest first);
    ``unlisted``: other checkpoint steps on disk (never swept: the sweeper manages listed ones only);
    ``ours``: the steps in the ledger; ``preserved``: steps kept earlier for every N hours.
    Latest N and best K count listed checkpoints of ours (``keep_max`` 0/None: all of them are "latest").
    A listed checkpoint of ours that no rule keeps is preserved for good when at least ``keep_every_secs``
    passed between the last preserved one and its save, else swept; walked oldest first, as time went.
    """
    listed_ours = [step for step, _ in listed if step in ours]
    latest = set(listed_ours[-policy.keep_max :]) if policy.keep_max else set(listed_ours)
    best = policy.best_steps(metrics, listed_ours)
    verdict = Verdict({}, last_preserved=last_preserved)
    newly_preserved: set[int] = set()
    for step, saved_at in listed:
        if step not in ours or step in latest or step in best or step in pinned or step in preserved:
            continue
        if saved_at - verdict.last_preserved >= policy.keep_every_secs:
            verdict.last_preserved = saved_at
            verdict.preserved.append(step)
            newly_preserved.add(step)
        else:
            verdict.swept.append(step)
    for step in sorted({*unlisted, *(step for step, _ in listed)}):
        why = []
        if step in pinned:
            why.append(KEPT_PINNED)
        if step not in ours:
            why.append(KEPT_FOREIGN)
        if step in latest:
            why.append(f"{KEPT_LATEST} {policy.keep_max}" if policy.keep_max else KEPT_LATEST)
        if step in best:
            why.append(f"{KEPT_BEST} {policy.keep_best} by {policy.best_metric}")
        if step in preserved or step in newly_preserved:
            why.append(KEPT_HOURS)
        verdict.reasons[step] = why
    return verdict


@dataclass
class _Listing:
    """The checkpoints the state file lists, as the sweeper manages them."""

    paths: list[str]  # as written in the state file
    timestamps: list[float]  # save time of each
    last_preserved: float

    def steps(self) -> list[tuple[int, float]]:
        return [
            (step, t) for step, t in zip(map(step_of, self.paths), self.timestamps, strict=True) if step is not None
        ]


def _listing(model_dir: str | os.PathLike, storage: Storage) -> _Listing:
    """The state file's list; a damaged one is replaced by the checkpoints on disk.

    Of those, as of any listing, the sweep deletes only what :func:`owned` finds ours: never a foreign one.
    """
    try:
        state = read_state(model_dir) or CheckpointState()
    except StateFileError:
        names = [os.path.basename(prefix) for prefix in checkpoints_on_disk(model_dir)]
        state = CheckpointState(all_model_checkpoint_paths=names)
    paths = list(state.all_model_checkpoint_paths)
    timestamps = list(state.all_model_checkpoint_timestamps)
    if len(timestamps) != len(paths):
        timestamps = [_saved_at(storage, resolve(model_dir, p)) for p in paths]
    return _Listing(paths, timestamps, state.last_preserved_timestamp or time.time())


def _saved_at(storage: Storage, prefix: str) -> float:
    info = storage.info(f"{prefix}.index")
    return info.mtime if info else time.time()


class Retention:
    """Keeps the state file and the directory in line with the policy, one save at a time."""

    def __init__(
        self, model_dir: str | os.PathLike, schedule: ScheduleConfig, log: RunLog, resumed_step: int | None = None
    ) -> None:
        """``resumed_step``: the step this run resumed from; listed checkpoints newer than it are never swept
        (one that could not be read just now may be healthy: unreadable is not corrupt)."""
        self.model_dir = model_dir
        self.storage = storage_for(model_dir)
        self.policy = Policy.from_schedule(schedule)
        self.log = log
        self.listing = _listing(model_dir, self.storage)
        self.metrics, self.files = read_ledger(model_dir)
        newest = -1 if resumed_step is None else resumed_step
        self.protected = {step for step, _ in self.listing.steps() if step > newest}
        self.problems: list[str] = []  # why a sweep was skipped, for the trainer to report

    def has_checkpoint(self, step: int) -> bool:
        prefix = checkpoint_prefix(self.model_dir, step)
        listed = any(resolve(self.model_dir, p) == prefix for p in self.listing.paths)
        return listed and self.storage.info(f"{prefix}.index") is not None

    def record(self, step: int, prefix: str, metrics: dict[str, float]) -> list[tuple[int, str]]:
        """Add a new checkpoint to the state file, sweep what the policy allows; returns what was deleted."""
        listing, relative = self.listing, os.path.basename(prefix)
        if relative in listing.paths:
            index = listing.paths.index(relative)
            del listing.paths[index], listing.timestamps[index]
        listing.paths.append(relative)
        listing.timestamps.append(time.time())
        files = checkpoint_files(self.model_dir, relative)
        record_written(self.model_dir, step, metrics, files)
        self.metrics[step] = metrics
        self.files[step] = files
        self.protected.discard(step)
        swept = self._sweep()
        write_state(
            self.model_dir,
            CheckpointState(relative, list(listing.paths), list(listing.timestamps), listing.last_preserved),
        )
        for gone_step, _ in swept:
            self._delete_checkpoint_files(gone_step)
        return swept

    def _sweep(self) -> list[tuple[int, str]]:
        """Apply :func:`judge` to the listing (the state file is written by the caller, before any deletion)."""
        listing = self.listing
        try:
            pinned = read_pins(self.model_dir)
        except RunLogError as exc:  # damaged since the run started: delete nothing, keep saving
            self.problems.append(f"nothing swept: {exc}")
            return []
        ours = owned(self.model_dir, listing.paths, self.files, _entries(self.storage, self.model_dir))
        verdict = judge(
            listing.steps(),
            (),
            set(ours.values()),
            self.metrics,
            pinned | self.protected,
            self.log.preserved,
            self.policy,
            listing.last_preserved,
        )
        if verdict.preserved:
            self.log.preserved.extend(verdict.preserved)
            write_run_log(self.model_dir, self.log)
        listing.last_preserved = verdict.last_preserved
        dropped, swept = verdict.dropped, set(verdict.swept)
        kept = [(p, t) for p, t in zip(listing.paths, listing.timestamps, strict=True) if ours.get(p) not in dropped]
        gone = [(step, resolve(self.model_dir, p)) for p, step in ours.items() if step in swept]
        listing.paths, listing.timestamps = [p for p, _ in kept], [t for _, t in kept]
        return gone

    def _delete_checkpoint_files(self, step: int) -> None:
        """Only the files the ledger recorded for ``step``, in the model_dir, still regular and of their size."""
        entries = _entries(self.storage, self.model_dir)
        for name, size in self.files.get(step, {}).items():
            if entries.get(name) == (size, True):
                try:
                    self.storage.delete(self.storage.join(self.model_dir, name))
                except FileNotFoundError:
                    continue  # already gone (deleted by hand)


def why_kept(model_dir: str | os.PathLike, ledger: LedgerReader | None = None) -> dict[int, list[str]]:
    """For each checkpoint step on disk or listed: the reasons it is kept (for the directory view).

    The same :func:`judge` the sweeper applies, so a listed step with no reason is what the next sweep deletes.
    A caller that asks again and again passes its ``LedgerReader`` for the model_dir.
    """
    storage = storage_for(model_dir)
    log = read_run_log(model_dir) or RunLog()
    policy = Policy.from_schedule(log.spec.schedule if log.spec else ScheduleConfig())
    ledger = ledger or LedgerReader(model_dir)
    metrics = ledger.read()
    listing = _listing(model_dir, storage)
    on_disk = [os.path.basename(prefix) for prefix in checkpoints_on_disk(model_dir)]
    ours = owned(model_dir, [*listing.paths, *on_disk], ledger.files, _entries(storage, model_dir))
    verdict = judge(
        listing.steps(),
        map(step_of, on_disk),
        set(ours.values()),
        metrics,
        read_pins(model_dir),
        log.preserved,
        policy,
        listing.last_preserved,
    )
    return verdict.reasons
