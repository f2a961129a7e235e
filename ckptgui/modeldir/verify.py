"""Verify every checkpoint of a model_dir at disk speed, without TensorFlow: every stored tensor's CRC is checked.

One scan lists the model_dir; each healthy checkpoint's index (parsed by the scan, cached per file version) names
every tensor's bytes, which are read shard by shard through the storage seam in ranges of at most
:data:`READ_RANGE` bytes (one range held at a time) and checked by :func:`ckptgui.formats.bundle.check_entry`, the
check TensorFlow's own reader makes. Keras ``.weights.h5`` files are read dataset by dataset through h5py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from ckptgui.formats.bundle import Entry, check_entry
from ckptgui.formats.wire import Damage, Vanished
from ckptgui.modeldir.keras import open_weights
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, read_index, scan
from ckptgui.modeldir.variables import flat_variables, h5_datasets, list_variables
from ckptgui.storage import name_of, parent_of, storage_for

ProgressCallback = Callable[[int, int, CheckpointInfo], None]
VERIFY_ATTEMPTS = 3
# The most bytes read (and held) at once. A few MB: the allocator reuses such buffers, while each larger one is a
# fresh mapping whose every page faults in; measured on one 256 MB checkpoint, 8 MB reads take a third of the time
# of 64 MB ones.
READ_RANGE = 8 << 20


def verify(path: str | os.PathLike, on_progress: ProgressCallback | None = None) -> list[CheckpointInfo]:
    """Read every tensor of every checkpoint: the statuses after a full read, with the first problem found.

    ``on_progress(done_bytes, total_bytes, checkpoint)`` is called after each
    read; raising from it cancels. A checkpoint swept away between listing
    and reading (a trainer's retention) comes back ``missing``, never an error.
    """
    info = scan(path)
    total = sum(c.total_bytes for c in info.checkpoints if c.usable)
    done = 0
    results = []
    for checkpoint in info.checkpoints:
        if not checkpoint.usable:
            results.append(checkpoint)
            continue

        def progress(nbytes: int, checkpoint: CheckpointInfo = checkpoint) -> None:
            nonlocal done
            done += nbytes
            if on_progress is not None:
                on_progress(min(done, total), total, checkpoint)

        results.append(_verify_one(checkpoint, progress))
    return results


class _TensorDamage(Exception):
    """A tensor failed its check: the raw key (to name the variable) and what is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _verify_one(checkpoint: CheckpointInfo, progress: Callable[[int], None]) -> CheckpointInfo:
    """The checkpoint as it is after a full read. A file swept before or during the read fails it; only then are
    its files looked up, to tell a sweep (``missing``) from damage."""
    reason = ""
    for _ in range(VERIFY_ATTEMPTS):
        try:
            if checkpoint.format == "keras-h5":
                _read_h5(checkpoint, progress)
            else:
                _check_bundle(checkpoint, progress)
            return checkpoint
        except (FileNotFoundError, Vanished):
            reason = "a file vanished while it was being read, and again at each new try"
            if not _files_gone(checkpoint):
                continue  # it vanished and came back (a rename): read again
        except _TensorDamage as damage:
            reason = f"{_readable_name(checkpoint, damage.key)}: {damage.reason}"
        except (Damage, OSError) as problem:
            reason = _describe(problem)
        break
    if _files_gone(checkpoint):
        reason = "deleted while it was being verified (a running trainer's retention sweep?)"
        return replace(checkpoint, status="missing", reason=reason)
    return replace(checkpoint, status="corrupt", reason=reason)


def _describe(problem: Exception) -> str:
    if isinstance(problem, OSError) and problem.strerror:
        return f"cannot be read ({problem.strerror})"
    return _first_line(problem)


def _check_bundle(checkpoint: CheckpointInfo, progress: Callable[[int], None]) -> None:
    """Every stored tensor of a TensorFlow checkpoint, shard by shard in file order, checked against its index."""
    index = checkpoint.index or read_index(checkpoint.prefix)  # the scan's parse, unless the handle has none
    folder, name = parent_of(checkpoint.prefix), name_of(checkpoint.prefix)
    storage = storage_for(checkpoint.prefix)
    by_shard: dict[int, list[Entry]] = {}
    for entry in index.stored():
        by_shard.setdefault(entry.shard, []).append(entry)
    for shard, entries in sorted(by_shard.items()):
        if shard >= index.num_shards:
            raise Damage(f"the index refers to data shard {shard}, which it does not declare")
        shard_name = index.shard_name(name, shard)
        path = storage.join(folder, shard_name)

        def read(start: int, end: int, path: str = path, shard_name: str = shard_name) -> np.ndarray:
            data = storage.read(path, start, end)
            if len(data) < end - start:
                raise Damage(
                    f"the .data file is truncated ({shard_name} ends at {start + len(data)} bytes, "
                    f"the index needs {end})"
                )
            progress(len(data))
            return np.frombuffer(data, np.uint8)  # read-only: CRC32C takes slices of it without a copy

        for entry, pieces in _pieces(sorted(entries, key=lambda e: e.offset), read):
            try:
                check_entry(entry, pieces)
            except Damage as damage:
                raise _TensorDamage(entry.key, str(damage)) from None


def _pieces(
    entries: list[Entry], read: Callable[[int, int], np.ndarray]
) -> Iterator[tuple[Entry, Iterable[np.ndarray]]]:
    """Each entry (sorted by offset) with its bytes: neighbours share one read of up to :data:`READ_RANGE` bytes, a
    larger tensor comes in several reads consumed as they come, so no more than one range is held at a time."""
    held, held_start = np.empty(0, np.uint8), 0
    for position, entry in enumerate(entries):
        start, end = entry.offset, entry.offset + entry.size
        if entry.size > READ_RANGE:
            held = np.empty(0, np.uint8)
            yield entry, (read(at, min(at + READ_RANGE, end)) for at in range(start, end, READ_RANGE))
            continue
        if start < held_start or end > held_start + len(held):
            held = np.empty(0, np.uint8)  # let the last range go before the next is read
            held_start = start
            for following in range(position + 1, len(entries)):  # indexes, not a slice: no copy of the list
                stop = entries[following].offset + entries[following].size
                if stop - start > READ_RANGE:
                    break
                end = max(end, stop)
            held = read(start, end)
        yield entry, (held[start - held_start : entry.offset + entry.size - held_start],)


def _read_h5(checkpoint: CheckpointInfo, progress: Callable[[int], None]) -> None:
    """Every weight array of a Keras weights file (or of the weights inside a ``.keras`` zip)."""
    with open_weights(checkpoint.prefix) as handle:
        for _, key, *_ in h5_datasets(checkpoint.prefix):
            try:
                array = np.asarray(handle[key][()])
            except (OSError, ValueError, KeyError) as problem:
                raise _TensorDamage(key, _first_line(problem)) from None
            progress(array.nbytes)


def _first_line(problem: BaseException) -> str:
    text = str(problem).strip()
    return text.splitlines()[0][:240] if text else type(problem).__name__


def _files_gone(checkpoint: CheckpointInfo) -> bool:
    """Whether a file of the checkpoint is gone: a lookup of each of its own files, never a listing of the folder."""
    folder = parent_of(checkpoint.prefix)
    storage = storage_for(folder)
    return any(storage.info(storage.join(folder, name)) is None for name in checkpoint.files)


def _readable_name(checkpoint: CheckpointInfo, key: str) -> str:
    """The variable's readable name for a raw key, looked up only when a damage report needs it."""
    try:
        names = {v.key: v.name for v in flat_variables(list_variables(checkpoint)).values()}
    except (CheckpointError, OSError):
        return key
    return names.get(key, key)
