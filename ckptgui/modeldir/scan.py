"""One look at a model_dir: its checkpoints, their health and format, the state file, event runs; no tensor data.

A scan lists the model_dir once, through the storage seam, and hands out :class:`CheckpointInfo` handles: the
readers of one checkpoint (variables, tensors) take a handle and never look the checkpoint up again.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from dataclasses import dataclass, field, fields

from ckptgui.formats.bundle import MAX_INDEX_BYTES, Index, parse_index
from ckptgui.formats.statefile import STATE_FILENAME, StateFileError, checkpoint_name, read_state
from ckptgui.formats.wire import Damage, Vanished
from ckptgui.modeldir.keras import BACKUP_METADATA, backup_epoch, is_keras_file, weights_problem
from ckptgui.modeldir.layout import (
    DATA_FILE,
    EVENTS_PREFIX,
    H5_SUFFIX,
    INDEX_FILE,
    KERAS_SUFFIX,
    META_FILE,
    TEMP_DIR,
    natural_key,
    step_of,
)
from ckptgui.storage import (
    NOT_REGULAR,
    FileInfo,
    Storage,
    StorageError,
    expand_path,
    name_of,
    parent_of,
    relative_path,
    storage_for,
)

FORMATS = ("tf2-object", "tf1-name", "tf1-v1", "keras-h5", "mixed", "empty")
STATUSES = ("ok", "incomplete", "corrupt", "missing", "unlisted", "unsupported")
V1_REASON = (
    "a TF1 V1 checkpoint (Saver(write_version=SaverDef.V1): one file, no .index): ckptgui reads only V2 "
    "checkpoints; TensorFlow still restores it, and a V2 Saver writes one ckptgui reads"
)
V1_FOOTER = 48  # a table's footer: two block handles, padding, the magic number
TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")  # LevelDB's table magic, which V1 checkpoints end with


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
    # The index this scan parsed, handed on so that no later reader of the handle parses it again; not part of the
    # checkpoint's description (``json_fields`` leaves it out).
    index: Index | None = field(default=None, repr=False, compare=False)

    def json_fields(self) -> dict[str, object]:
        """The checkpoint's description as plain values (``ckptgui inspect --json``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "index"}

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


def read_index(prefix: str, index_file: FileInfo | None = None) -> Index:
    """The parsed ``.index`` of ``prefix``, cached per version of the file (its storage token).

    ``index_file`` is the file's entry from a listing already made; without it the file is looked up.
    Raises :class:`Vanished` when the file is gone, :class:`Damage` when it cannot be parsed.
    """
    path = f"{prefix}.index"
    if index_file is None:
        index_file = storage_for(path).info(path)
        if index_file is None:
            raise Vanished("no .index file")
    if index_file.special or index_file.is_dir:
        raise Damage(f"the .index file is {NOT_REGULAR}")
    if index_file.size > MAX_INDEX_BYTES:
        raise Damage(_too_large(index_file.size))
    return _INDEXES.get(path, index_file.token, index_file.size)


class _IndexCache:
    """Parsed indexes by path and change token, the least recently used dropped first when the index files they
    came from add up to more than ``budget`` bytes. Bounded by size, not count: a folder of thousands of small
    checkpoints (rescanned by every look of the window, or verified) stays parsed, while one huge index does
    not pin memory beside the next."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._entries: collections.OrderedDict[tuple[str, str], tuple[Index, int]] = collections.OrderedDict()
        self._total = 0
        self._lock = threading.Lock()  # the window's pool threads scan concurrently

    def get(self, path: str, token: str, size: int) -> Index:
        with self._lock:
            found = self._entries.get((path, token))
            if found is not None:
                self._entries.move_to_end((path, token))
                return found[0]
        index = _read_index(path)
        with self._lock:
            if (path, token) not in self._entries:
                self._entries[(path, token)] = (index, size)
                self._total += size
            while self._total > self._budget and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total -= dropped
        return index


def _read_index(path: str) -> Index:
    try:
        table = storage_for(path).read(path, 0, MAX_INDEX_BYTES + 1)  # bounded: the file may have grown since
    except FileNotFoundError:
        raise Vanished("no .index file") from None
    except OSError as exc:
        raise Damage(f"the .index file cannot be read ({exc.strerror})") from None
    if len(table) > MAX_INDEX_BYTES:
        raise Damage(_too_large(None))  # it grew past the limit after it was listed
    return parse_index(table)


_INDEXES = _IndexCache(budget=MAX_INDEX_BYTES)


def _too_large(size: int | None) -> str:
    measured = f" ({size:,} bytes)" if size is not None else ""
    return f"the .index file is larger than {MAX_INDEX_BYTES >> 20} MiB{measured}, the most an index may take: not read"


def _h5_problem(storage: Storage, path: str) -> str | None:
    """Why a Keras file's weights cannot be opened, "" when they can, None when it is gone; cached per version."""
    found = storage.info(path)
    if found is None:
        return None
    if found.special:
        return f"the weights file is {NOT_REGULAR}"
    return _h5_problem_cached(found.path, found.token)


@functools.lru_cache(maxsize=512)
def _h5_problem_cached(path: str, token: str) -> str:
    return weights_problem(path)


def _v1_problem(storage: Storage, path: str) -> str:
    """Why one lone file named in the state file is not a TF1 V1 checkpoint (a table with its magic); "" if it is."""
    found = storage.info(path)
    if found is None or found.size < V1_FOOTER:
        return "too short to be a TF1 V1 checkpoint"
    footer = storage.read(path, found.size - 8, found.size)
    return "" if footer == TABLE_MAGIC else "not a TF1 V1 checkpoint (no table footer)"


@dataclass
class _Group:
    """The files on disk that belong to one prefix."""

    name: str
    index_file: FileInfo | None = None  # the .index entry of the listing
    shards: dict[str, int] = field(default_factory=dict)  # data file name -> size
    others: dict[str, int] = field(default_factory=dict)  # name -> size (.index, .meta, temp files)
    temp: list[str] = field(default_factory=list)
    mtime: float = 0.0
    h5: bool = False
    v1: bool = False  # one file, a TF1 Saver(write_version=V1) checkpoint named in the state file

    @property
    def files(self) -> dict[str, int]:
        return {**self.others, **self.shards}


def _walk_size(storage: Storage, folder: str, relative_to: str) -> tuple[dict[str, int], float]:
    """Every file below ``folder`` (path relative to ``relative_to`` -> size) and the newest modification time."""
    files, newest = {}, 0.0
    try:
        entries = storage.listdir(folder)
    except OSError:
        return files, newest  # swept while being listed
    for entry in entries:
        if entry.is_dir:
            inner, inner_newest = _walk_size(storage, entry.path, relative_to)
            files.update(inner)
            newest = max(newest, inner_newest)
        else:
            files[relative_path(entry.path, relative_to)] = entry.size
            newest = max(newest, entry.mtime)
    return files, newest


def _collect(
    storage: Storage, directory: str, listing: list[FileInfo], only: str | None, listed: set[str]
) -> tuple[dict[str, _Group], list[str]]:
    """Group the directory's checkpoint files by prefix; also name subfolders that hold checkpoints.

    ``listed`` are the names the state file gives: a lone file of such a name is a TF1 V1 checkpoint.
    """
    groups: dict[str, _Group] = {}
    nested: list[str] = []
    for item in listing:
        name = item.name
        if item.is_dir:
            match = TEMP_DIR.match(name)
            if match and (only is None or match["prefix"] == only):
                group = groups.setdefault(match["prefix"], _Group(match["prefix"]))
                files, newest = _walk_size(storage, item.path, directory)
                group.temp.append(name)
                group.others.update(files)
                group.mtime = max(group.mtime, newest, item.mtime)
            elif not match and only is None and not name.startswith("."):
                nested.extend(_nested_checkpoint_dirs(storage, item.path, directory))
            continue
        prefix, kind = None, ""
        for pattern, label in ((INDEX_FILE, "index"), (DATA_FILE, "data"), (META_FILE, "meta")):
            match = pattern.match(name)
            if match:
                prefix, kind = match["prefix"], label
                break
        if prefix is None and is_keras_file(name):
            prefix, kind = name, "h5"
        elif prefix is None and name in listed:
            prefix, kind = name, "v1"
        if prefix is None or (only is not None and prefix != only):
            continue
        group = groups.setdefault(prefix, _Group(prefix))
        group.mtime = max(group.mtime, item.mtime)
        if kind == "data":
            group.shards[name] = item.size
        else:
            group.others[name] = item.size
            if kind == "index":
                group.index_file = item
            group.h5 |= kind == "h5"
            group.v1 |= kind == "v1"
    lone_meta = [p for p, g in groups.items() if not (g.index_file or g.shards or g.temp or g.h5 or g.v1)]
    for prefix in lone_meta:
        del groups[prefix]
    return groups, nested


def _nested_checkpoint_dirs(storage: Storage, folder: str, top: str) -> list[str]:
    try:
        names = [entry.name for entry in storage.listdir(folder)]
    except OSError:
        return []
    # Not *.keras: a whole model beside a run is an export (MODEL_DIR/export/1.keras), not a checkpoint of it.
    if any(INDEX_FILE.match(n) or n.endswith(H5_SUFFIX) for n in names):
        return [relative_path(folder, top)]
    return []


def _judge(storage: Storage, directory: str, group: _Group) -> tuple[str, str, str, Index | None]:
    """(status, reason, format, parsed index when healthy) of one prefix from its files, reading no tensor data.

    Damage next to a ``*_temp`` folder is a save still in progress (the index is
    written in place after the data) or one that was cut short: incomplete.
    """
    status, reason, fmt, index = _judge_files(storage, directory, group)
    if status == "corrupt" and group.temp:
        return (
            "incomplete",
            f"being written, or its save was interrupted ({group.temp[0]} is still there): {reason}",
            fmt,
            None,
        )
    return status, reason, fmt, index


def _judge_files(storage: Storage, directory: str, group: _Group) -> tuple[str, str, str, Index | None]:
    prefix = storage.join(directory, group.name)
    if group.h5:
        problem = _h5_problem(storage, prefix)
        if problem is None:
            return "missing", "deleted while the folder was being read", "keras-h5", None
        return ("corrupt", problem, "keras-h5", None) if problem else ("ok", "", "keras-h5", None)
    if group.v1 and group.index_file is None and not group.shards:
        problem = _v1_problem(storage, prefix)
        if problem:
            return "corrupt", problem, "", None
        return "unsupported", V1_REASON, "tf1-v1", None
    if group.index_file is None:
        if group.shards:
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", "", None
        return (
            "incomplete",
            f"only the temporary folder {group.temp[0]}: a save in progress, or an interrupted one "
            "(then safe to delete)",
            "",
            None,
        )
    try:
        index = read_index(prefix, group.index_file)
    except Vanished:
        if any(storage.info(storage.join(directory, name)) is not None for name in group.files):
            return "incomplete", "no .index file: a save in progress, or one interrupted before its index", "", None
        return "missing", "deleted while the folder was being read", "", None
    except Damage as damage:
        return "corrupt", str(damage), "", None
    for shard in range(index.num_shards):
        name = index.shard_name(group.name, shard)
        if name not in group.shards:
            return "incomplete", f"data shard {name} is missing", index.format, None
    for shard, needed in index.bytes_needed().items():
        name = index.shard_name(group.name, shard)
        have = group.shards.get(name)
        if have is None:
            return "corrupt", f"the index refers to data shard {shard}, which it does not declare", index.format, None
        if have < needed:
            return "corrupt", f"{name} is truncated: {have} bytes, the index needs {needed}", index.format, None
    return "ok", "", index.format, index


def _state_paths(directory: str, problems: list[str]) -> tuple[list[str] | None, str | None]:
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
        name, absolute = checkpoint_name(path)
        if absolute and parent_of(path) != directory:
            moved = True
        return name

    listed = [local(p) for p in [*state.all_model_checkpoint_paths, state.model_checkpoint_path]]
    if moved:
        problems.append(
            f"the `{STATE_FILENAME}` state file names checkpoints by absolute paths outside this folder (was the "
            "model_dir moved, or written on another machine?); they were matched here by file name, but "
            "TensorFlow will look for the old paths"
        )
    return list(dict.fromkeys(listed)), local(state.model_checkpoint_path)


def _event_runs(storage: Storage, listing: list[FileInfo]) -> list[str]:
    """Folders holding events files, three levels deep at most, from the model_dir's listing (not listed again)."""
    runs = set()
    pending: list[tuple[str, list[FileInfo], int]] = [(".", listing, 0)]
    while pending:
        relative, entries, depth = pending.pop()
        if any(entry.is_file and entry.name.startswith(EVENTS_PREFIX) for entry in entries):
            runs.add(relative)
        if depth >= 3:
            continue
        for entry in entries:
            if entry.is_dir and not TEMP_DIR.match(entry.name):
                try:
                    inner = storage.listdir(entry.path)
                except OSError:
                    continue
                pending.append((entry.name if relative == "." else f"{relative}/{entry.name}", inner, depth + 1))
    return sorted(runs, key=natural_key)


def _step(prefix: str, group: _Group, backup: bool) -> int | None:
    """The step in the name; for a BackupAndRestore backup (``latest.weights.h5``), the epoch its metadata holds."""
    step = step_of(prefix)
    if step is None and group.h5 and backup:
        return backup_epoch(prefix)
    return step


def _order(checkpoint: CheckpointInfo) -> tuple:
    return (checkpoint.step is None, checkpoint.step or 0, checkpoint.mtime, checkpoint.prefix)


def _scan_dir(directory: str, only: str | None = None) -> ModelDirInfo:
    problems: list[str] = []
    storage = storage_for(directory)
    try:
        listing = storage.listdir(directory)
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot be listed ({exc.strerror})") from None
    listed, latest = _state_paths(directory, problems)
    listed_names = set(listed or ())
    groups, nested = _collect(storage, directory, listing, only, listed_names)
    checkpoints = []
    backup = any(item.name == BACKUP_METADATA for item in listing)
    for name, group in groups.items():
        status, reason, fmt, index = _judge(storage, directory, group)
        is_listed = name in listed_names
        if status == "ok" and listed is not None and not is_listed and not group.h5:
            status = "unlisted"
            reason = f"on disk but not in the `{STATE_FILENAME}` state file (kept by hand or by another writer)"
        files = group.files
        checkpoints.append(
            CheckpointInfo(
                _step(storage.join(directory, name), group, backup),
                storage.join(directory, name),
                sorted(files, key=natural_key),
                sum(files.values()),
                group.mtime,
                status,
                reason,
                is_listed,
                fmt,
                index,
            )
        )
        if group.temp and group.index_file:
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
                CheckpointInfo(step_of(name), storage.join(directory, name), [], 0, 0.0, "missing", reason, True)
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
        directory,
        _dir_format(checkpoints),
        checkpoints,
        latest_step,
        None,
        _event_runs(storage, listing) if only is None else [],
        problems,
    )
    chosen = info.restore_checkpoint
    info.restore_step = chosen.step if chosen else None
    latest_info = next((c for c in checkpoints if name_of(c.prefix) == latest), None) if latest else None
    if latest_info is not None and not latest_info.usable:
        fallback = f"a restore of 'latest' should use {name_of(chosen.prefix)}" if chosen else "none is usable"
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


def _storage(path: str | os.PathLike) -> Storage:
    try:
        return storage_for(path)
    except StorageError as exc:
        raise CheckpointError(str(exc)) from None


def _split_step(storage: Storage, path: str) -> tuple[str, int | None]:
    """``DIR@STEP`` -> (DIR, STEP); any other path -> (path, None)."""
    head, sep, tail = path.rpartition("@")
    if not sep or not tail or storage.info(path) is not None:
        return path, None
    if tail.isdigit():
        return head, int(tail)
    folder = storage.info(head)
    if folder is not None and folder.is_dir:
        raise CheckpointError(f"{path}: {tail!r} is not a step number; use DIR@STEP, e.g. {head}@200")
    return path, None


def _as_prefix(storage: Storage, path: str, found: FileInfo | None) -> str | None:
    """The checkpoint prefix a path names: the prefix itself, or one of its .index/.data/.meta files."""
    for pattern in (INDEX_FILE, DATA_FILE, META_FILE):
        match = pattern.match(name_of(path))
        if match and found is not None and found.is_file:
            return storage.join(parent_of(path), match["prefix"])
    if storage.info(f"{path}.index") is not None:
        return path
    try:
        siblings = storage.listdir(parent_of(path))
    except OSError:
        return None
    shards = (DATA_FILE.match(entry.name) for entry in siblings)
    return path if any(shard and shard["prefix"] == name_of(path) for shard in shards) else None


def scan(path: str | os.PathLike) -> ModelDirInfo:
    """What a model_dir (or one checkpoint prefix, ``DIR@STEP`` or ``*.weights.h5``) holds; reads no tensor data."""
    storage = _storage(path)
    text, step = _split_step(storage, os.fspath(path))
    target = expand_path(text)
    found = storage.info(target)
    if found is not None and found.is_dir:
        info = _scan_dir(target)
        if step is not None:
            chosen = _pick_step(info, step, text)
            info.checkpoints = [chosen]
            info.restore_step = chosen.step if chosen.usable else None  # as for the checkpoint's own prefix
        return info
    if step is not None:
        raise CheckpointError(f"{text}: no such model_dir (DIR@STEP needs a folder before the @)")
    if found is not None and is_keras_file(target):
        return _scan_dir(parent_of(target), only=name_of(target))
    prefix = _as_prefix(storage, target, found)
    if prefix is None:
        parent = storage.info(parent_of(target))
        if parent is not None and parent.is_dir and _listed_in_state(target):
            return _scan_dir(parent_of(target), only=name_of(target))
        if found is None:
            raise CheckpointError(f"{text}: no such file or directory")
        raise CheckpointError(
            f"{text}: not a checkpoint; expected a model_dir, a checkpoint prefix (e.g. model.ckpt-200, without "
            f"the .index/.data suffix), DIR@STEP, or a Keras *{H5_SUFFIX} or *{KERAS_SUFFIX} file"
        )
    return _scan_dir(parent_of(prefix), only=name_of(prefix))


def _listed_in_state(prefix: str) -> bool:
    try:
        state = read_state(parent_of(prefix))
    except (StateFileError, OSError):
        return False
    if state is None:
        return False
    paths = [*state.all_model_checkpoint_paths, state.model_checkpoint_path]
    return name_of(prefix) in {checkpoint_name(p)[0] for p in paths}


def _pick_step(info: ModelDirInfo, step: int, where: str) -> CheckpointInfo:
    chosen = info.checkpoint(step)
    if chosen is None:
        steps = ", ".join(str(c.step) for c in info.checkpoints if c.step is not None) or "none"
        raise CheckpointError(f"{where}: no checkpoint for step {step}; the steps here are: {steps}")
    return chosen


def locate(path: str | os.PathLike, step: int | None = None) -> CheckpointInfo:
    """The one checkpoint a path names: a prefix, ``DIR@STEP``, ``DIR`` + ``step``, or ``DIR`` (its restore step)."""
    text, at_step = _split_step(_storage(path), os.fspath(path))
    if at_step is not None and step is not None and at_step != step:
        raise CheckpointError(f"{path}: names step {at_step}, but step {step} was asked for")
    step = at_step if at_step is not None else step
    info = scan(text)
    if info.path == expand_path(text):  # a model_dir, not one checkpoint in it
        if step is not None:
            return _pick_step(info, step, text)
        chosen = info.restore_checkpoint
        if chosen is None:
            states = ", ".join(f"{name_of(c.prefix)}: {c.status}" for c in info.checkpoints) or "no checkpoints"
            raise CheckpointError(f"{text}: no usable checkpoint ({states})")
        return chosen
    chosen = info.checkpoints[0]
    if step is not None and chosen.step != step:
        raise CheckpointError(
            f"{text} is the checkpoint for step {chosen.step}; to pick step {step}, pass its model_dir instead"
        )
    return chosen


def require_index(checkpoint: CheckpointInfo) -> Index:
    """The index of a checkpoint that has one; a :class:`CheckpointError` saying why when it has none."""
    if checkpoint.status in ("missing", "incomplete") or checkpoint.format == "keras-h5":
        raise CheckpointError(f"{checkpoint.prefix}: {checkpoint.status}: {checkpoint.reason}")
    if checkpoint.index is not None:
        return checkpoint.index
    try:
        return read_index(checkpoint.prefix)
    except Damage as damage:
        raise CheckpointError(f"{checkpoint.prefix}: corrupt: {damage}") from None
