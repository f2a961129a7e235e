"""One look at a model_dir: its checkpoints, their health and format, the state file, event runs; no tensor data."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ckptgui.formats.bundle import Index, parse_index
from ckptgui.formats.statefile import STATE_FILENAME, StateFileError, read_state
from ckptgui.formats.wire import Damage, Vanished
from ckptgui.modeldir.layout import (
    DATA_FILE,
    EVENTS_PREFIX,
    H5_SUFFIX,
    INDEX_FILE,
    META_FILE,
    TEMP_DIR,
    natural_key,
    step_of,
)

FORMATS = ("tf2-object", "tf1-name", "keras-h5", "mixed", "empty")
STATUSES = ("ok", "incomplete", "corrupt", "missing", "unlisted")


class CheckpointError(ValueError):
    """A path that is not a readable checkpoint; the message names the path and what is wrong."""


@dataclass
class CheckpointInfo:
    """One checkpoint of a model_dir; ``prefix`` is what TensorFlow restores from (or the ``.weights.h5`` path)."""

    step: int | None
    prefix: str
    files: list[str]  # relative to the model_dir
    total_bytes: int
    mtime: float
    status: str  # one of STATUSES
    reason: str = ""  # why the status is not ok; empty when it is
    listed: bool = False  # named in the ``checkpoint`` state file
    format: str = ""  # "tf2-object" | "tf1-name" | "keras-h5" | "" (unreadable)

    @property
    def usable(self) -> bool:
        """Healthy as far as is known: ``ok``, or ``unlisted`` (fine, just not in the state file)."""
        return self.status in ("ok", "unlisted")


@dataclass
class ModelDirInfo:
    path: str
    format: str  # one of FORMATS
    checkpoints: list[CheckpointInfo]
    latest_step: int | None  # what the state file's model_checkpoint_path names
    restore_step: int | None  # the newest healthy checkpoint: what a restore of "latest" should use
    event_runs: list[str]  # folders (relative, "." for the top) holding events files
    problems: list[str]

    def checkpoint(self, step: int) -> CheckpointInfo | None:
        return next((c for c in self.checkpoints if c.step == step), None)

    @property
    def restore_checkpoint(self) -> CheckpointInfo | None:
        usable = [c for c in self.checkpoints if c.status == "ok"] or [c for c in self.checkpoints if c.usable]
        return usable[-1] if usable else None


def _h5_problem(path: Path) -> str | None:
    """Why a Keras weights file cannot be opened, "" when it can, None when it is gone; cached per version."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _h5_problem_cached(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _h5_problem_cached(path: str, size: int, mtime_ns: int) -> str:
    import h5py

    try:
        with h5py.File(path, "r"):
            return ""
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            return "the HDF5 file is truncated (a save was interrupted or the copy is incomplete)"
        return f"not a readable HDF5 file ({text.splitlines()[0][:160]})"


@dataclass
class _Group:
    """The files on disk that belong to one prefix."""

    name: str
    index: bool = False
    shards: dict[str, int] = field(default_factory=dict)  # data file name -> size
    others: dict[str, int] = field(default_factory=dict)  # name -> size (.index, .meta, temp files)
    temp: list[str] = field(default_factory=list)
    mtime: float = 0.0
    h5: bool = False

    @property
    def files(self) -> dict[str, int]:
        return {**self.others, **self.shards}


def _walk_size(folder: Path, relative_to: Path) -> tuple[dict[str, int], float]:
    files, newest = {}, 0.0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue
            files[os.path.relpath(os.path.join(root, name), relative_to)] = stat.st_size
            newest = max(newest, stat.st_mtime)
    return files, newest


def _collect(directory: Path, only: str | None) -> tuple[dict[str, _Group], list[str]]:
    """Group the directory's checkpoint files by prefix; also name subfolders that hold checkpoints."""
    groups: dict[str, _Group] = {}
    nested: list[str] = []
    try:
        listing = list(os.scandir(directory))
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot be listed ({exc.strerror})") from None
    for item in listing:
        name = item.name
        try:
            is_dir = item.is_dir()
            stat = item.stat()
        except OSError:
            continue  # swept between listing and stat
        if is_dir:
            match = TEMP_DIR.match(name)
            if match and (only is None or match["prefix"] == only):
                group = groups.setdefault(match["prefix"], _Group(match["prefix"]))
                files, newest = _walk_size(Path(item.path), directory)
                group.temp.append(name)
                group.others.update(files)
                group.mtime = max(group.mtime, newest, stat.st_mtime)
            elif not match and only is None and not name.startswith("."):
                nested.extend(_nested_checkpoint_dirs(Path(item.path), directory))
            continue
        prefix, kind = None, ""
        for pattern, label in ((INDEX_FILE, "index"), (DATA_FILE, "data"), (META_FILE, "meta")):
            match = pattern.match(name)
            if match:
                prefix, kind = match["prefix"], label
                break
        if prefix is None and name.endswith(H5_SUFFIX):
            prefix, kind = name, "h5"
        if prefix is None or (only is not None and prefix != only):
            continue
        group = groups.setdefault(prefix, _Group(prefix))
        group.mtime = max(group.mtime, stat.st_mtime)
        if kind == "data":
            group.shards[name] = stat.st_size
        else:
            group.others[name] = stat.st_size
            group.index |= kind == "index"
            group.h5 |= kind == "h5"
    lone_meta = [p for p, g in groups.items() if not (g.index or g.shards or g.temp or g.h5)]
    for prefix in lone_meta:
        del groups[prefix]
    return groups, nested


def _nested_checkpoint_dirs(folder: Path, top: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    if any(INDEX_FILE.match(n) or n.endswith(H5_SUFFIX) for n in names):
        return [os.path.relpath(folder, top)]
    return []


def _judge(directory: Path, group: _Group) -> tuple[str, str, str]:
    """(status, reason, format) of one prefix from its files, without reading tensor data.

    Damage next to a ``*_temp`` folder is a save still in progress (the index is
    written in place after the data) or one that was cut short: incomplete.
    """
    status, reason, fmt = _judge_files(directory, group)
    if status == "corrupt" and group.temp:
        return (
            "incomplete",
            f"being written, or its save was interrupted ({group.temp[0]} is still there): {reason}",
            fmt,
        )
    return status, reason, fmt


def _judge_files(directory: Path, group: _Group) -> tuple[str, str, str]:
    prefix = str(directory / group.name)
    if group.h5:
        problem = _h5_problem(directory / group.name)
        if problem is None:
            return "missing", "deleted while the folder was being read", "keras-h5"
        return ("corrupt", problem, "keras-h5") if problem else ("ok", "", "keras-h5")
    if not group.index:
        if group.shards:
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", ""
        return (
            "incomplete",
            f"only the temporary folder {group.temp[0]}: a save in progress, or an interrupted one "
            "(then safe to delete)",
            "",
        )
    try:
        index = parse_index(prefix)
    except Vanished:
        if any((directory / name).exists() for name in group.files):
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", ""
        return "missing", "deleted while the folder was being read", ""
    except Damage as damage:
        return "corrupt", str(damage), ""
    for shard in range(index.num_shards):
        name = index.shard_name(group.name, shard)
        if name not in group.shards:
            return "incomplete", f"data shard {name} is missing", index.format
    for shard, needed in index.bytes_needed().items():
        name = index.shard_name(group.name, shard)
        have = group.shards.get(name)
        if have is None:
            return "corrupt", f"the index refers to data shard {shard}, which it does not declare", index.format
        if have < needed:
            return "corrupt", f"{name} is truncated: {have} bytes, the index needs {needed}", index.format
    return "ok", "", index.format


def _state_paths(directory: Path, problems: list[str]) -> tuple[list[str] | None, str | None]:
    """(listed prefix names, latest prefix name) from the ``checkpoint`` file; None when it is absent or damaged."""
    try:
        state = read_state(directory)
    except StateFileError as exc:
        problems.append(
            f"the `{STATE_FILENAME}` state file is damaged ({exc}): TensorFlow cannot tell which checkpoint is "
            "latest; the checkpoints below are listed from the files on disk"
        )
        return None, None
    except OSError as exc:
        problems.append(f"the `{STATE_FILENAME}` state file cannot be read ({exc.strerror})")
        return None, None
    if state is None:
        return None, None
    moved = False

    def local(path: str) -> str:
        nonlocal moved
        candidate = Path(path)
        if candidate.is_absolute() and candidate.parent != directory:
            moved = True
        return candidate.name

    listed = [local(p) for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]]
    if moved:
        problems.append(
            f"the `{STATE_FILENAME}` state file names checkpoints by absolute paths outside this folder (was the "
            "model_dir moved?); they were matched here by file name, but TensorFlow will look for the old paths"
        )
    return list(dict.fromkeys(listed)), local(state.model_checkpoint_path)


def _event_runs(directory: Path) -> list[str]:
    runs = set()
    for root, dirs, names in os.walk(directory):
        depth = len(Path(root).relative_to(directory).parts)
        dirs[:] = [d for d in dirs if depth < 3 and not TEMP_DIR.match(d)]
        if any(n.startswith(EVENTS_PREFIX) for n in names):
            runs.add(Path(root).relative_to(directory).as_posix())
    return sorted(runs, key=natural_key)


def _order(checkpoint: CheckpointInfo) -> tuple:
    return (checkpoint.step is None, checkpoint.step or 0, checkpoint.mtime, checkpoint.prefix)


def _scan_dir(directory: Path, only: str | None = None) -> ModelDirInfo:
    problems: list[str] = []
    groups, nested = _collect(directory, only)
    listed, latest = _state_paths(directory, problems)
    checkpoints = []
    for name, group in groups.items():
        status, reason, fmt = _judge(directory, group)
        is_listed = listed is not None and name in listed
        if status == "ok" and listed is not None and not is_listed and not group.h5:
            status = "unlisted"
            reason = f"on disk but not in the `{STATE_FILENAME}` state file (kept by hand or by another writer)"
        files = group.files
        checkpoints.append(
            CheckpointInfo(
                step_of(name),
                str(directory / name),
                sorted(files, key=natural_key),
                sum(files.values()),
                group.mtime,
                status,
                reason,
                is_listed,
                fmt,
            )
        )
        if group.temp and group.index:
            problems.append(
                f"{group.temp[0]} is left over from an interrupted save of {name} "
                "(safe to delete once no trainer is writing here)"
            )
    for name in listed or []:
        if name not in groups and (only is None or name == only):
            reason = (
                f"listed in the `{STATE_FILENAME}` state file, but its files are gone "
                "(deleted by a retention sweep or by hand)"
            )
            checkpoints.append(
                CheckpointInfo(step_of(name), str(directory / name), [], 0, 0.0, "missing", reason, True)
            )
    checkpoints.sort(key=_order)
    tf_checkpoints = [c for c in checkpoints if c.format != "keras-h5"]
    if listed is None and tf_checkpoints and not any("state file is damaged" in p for p in problems):
        problems.append(
            f"no `{STATE_FILENAME}` state file: tf.train.latest_checkpoint() finds nothing here; "
            "each checkpoint can still be used by its prefix"
        )
    latest_step = step_of(latest) if latest else None
    info = ModelDirInfo(
        str(directory),
        _dir_format(checkpoints),
        checkpoints,
        latest_step,
        None,
        _event_runs(directory) if only is None else [],
        problems,
    )
    chosen = info.restore_checkpoint
    info.restore_step = chosen.step if chosen else None
    latest_info = next((c for c in checkpoints if Path(c.prefix).name == latest), None) if latest else None
    if latest_info is not None and not latest_info.usable:
        fallback = f"a restore of 'latest' should use {Path(chosen.prefix).name}" if chosen else "none is usable"
        problems.append(f"the latest checkpoint {latest} is {latest_info.status} ({latest_info.reason}); {fallback}")
    for folder in nested:
        problems.append(f"the subfolder {folder} holds checkpoints too; open it on its own to see them")
    return info


def _dir_format(checkpoints: list[CheckpointInfo]) -> str:
    kinds = {c.format for c in checkpoints if c.format}
    if not kinds:
        if not checkpoints:
            return "empty"
        return "tf1-name" if any(f.endswith(".meta") for c in checkpoints for f in c.files) else "tf2-object"
    return kinds.pop() if len(kinds) == 1 else "mixed"


# Paths: model_dir, prefix, DIR@STEP, *.weights.h5 ------------------------------------------------------------


def _split_step(path: str) -> tuple[str, int | None]:
    """``DIR@STEP`` -> (DIR, STEP); any other path -> (path, None)."""
    head, sep, tail = path.rpartition("@")
    if sep and tail.isdigit() and not os.path.exists(path):
        return head, int(tail)
    if sep and tail and not os.path.exists(path) and os.path.isdir(head):
        raise CheckpointError(f"{path}: {tail!r} is not a step number; use DIR@STEP, e.g. {head}@200")
    return path, None


def _as_prefix(path: Path) -> Path | None:
    """The checkpoint prefix a path names: the prefix itself, or one of its .index/.data/.meta files."""
    for pattern in (INDEX_FILE, DATA_FILE, META_FILE):
        match = pattern.match(path.name)
        if match and path.is_file():
            return path.with_name(match["prefix"])
    if Path(f"{path}.index").exists() or any(path.parent.glob(f"{_glob_escape(path.name)}.data-*")):
        return path
    return None


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def scan(path: str | os.PathLike) -> ModelDirInfo:
    """What a model_dir (or one checkpoint prefix, ``DIR@STEP`` or ``*.weights.h5``) holds; reads no tensor data."""
    text, step = _split_step(os.fspath(path))
    target = Path(text).expanduser()
    if target.is_dir():
        info = _scan_dir(target)
        if step is not None:
            chosen = _pick_step(info, step, text)
            info.checkpoints = [chosen]
        return info
    if step is not None:
        raise CheckpointError(f"{text}: no such model_dir (DIR@STEP needs a folder before the @)")
    if target.is_file() and target.name.endswith(H5_SUFFIX):
        return _scan_dir(target.parent, only=target.name)
    prefix = _as_prefix(target)
    if prefix is None:
        if target.parent.is_dir() and _listed_in_state(target):
            return _scan_dir(target.parent, only=target.name)
        if not target.exists():
            raise CheckpointError(f"{text}: no such file or directory")
        raise CheckpointError(
            f"{text}: not a checkpoint; expected a model_dir, a checkpoint prefix (e.g. model.ckpt-200, without "
            f"the .index/.data suffix), DIR@STEP, or a Keras *{H5_SUFFIX} file"
        )
    return _scan_dir(prefix.parent, only=prefix.name)


def _listed_in_state(prefix: Path) -> bool:
    try:
        state = read_state(prefix.parent)
    except (StateFileError, OSError):
        return False
    if state is None:
        return False
    return prefix.name in {Path(p).name for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]}


def _pick_step(info: ModelDirInfo, step: int, where: str) -> CheckpointInfo:
    chosen = info.checkpoint(step)
    if chosen is None:
        steps = ", ".join(str(c.step) for c in info.checkpoints if c.step is not None) or "none"
        raise CheckpointError(f"{where}: no checkpoint for step {step}; the steps here are: {steps}")
    return chosen


def locate(path: str | os.PathLike, step: int | None = None) -> CheckpointInfo:
    """The one checkpoint a path names: a prefix, ``DIR@STEP``, ``DIR`` + ``step``, or ``DIR`` (its restore step)."""
    text, at_step = _split_step(os.fspath(path))
    if at_step is not None and step is not None and at_step != step:
        raise CheckpointError(f"{path}: names step {at_step}, but step {step} was asked for")
    step = at_step if at_step is not None else step
    info = scan(text)
    if Path(text).expanduser().is_dir():
        if step is not None:
            return _pick_step(info, step, text)
        chosen = info.restore_checkpoint
        if chosen is None:
            states = ", ".join(f"{Path(c.prefix).name}: {c.status}" for c in info.checkpoints) or "no checkpoints"
            raise CheckpointError(f"{text}: no usable checkpoint ({states})")
        return chosen
    chosen = info.checkpoints[0]
    if step is not None and chosen.step != step:
        raise CheckpointError(
            f"{text} is the checkpoint for step {chosen.step}; to pick step {step}, pass its model_dir instead"
        )
    return chosen


def require_index(checkpoint: CheckpointInfo) -> Index:
    if checkpoint.status in ("missing", "incomplete") or checkpoint.format == "keras-h5":
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    try:
        return parse_index(checkpoint.prefix)
    except Damage as damage:
        raise CheckpointError(f"{checkpoint.prefix}: corrupt: {damage}") from None
