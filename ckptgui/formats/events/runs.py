"""Runs under a path, found and kept up to date: the public face of the event reader (:class:`ScalarReader`).

PATH is a model_dir (or any log dir), one run folder, or one event file. Every directory under PATH holding
a file whose name contains ``tfevents`` is a run, named by its path relative to PATH with ``/`` separators
(``.`` for PATH itself), e.g. ``.``, ``eval``, ``train``, ``validation``. Symlinked directories are not
followed. A run's files are read in name order and merged into its series (:mod:`.series`).

When nothing changed, a poll of a local PATH costs one ``info`` (a ``stat``) per file and per directory: a
directory is listed again when its change token differs or its mtime is less than two seconds old, which catches
new files and runs on file systems with coarse timestamps. A poll of a bucket (``gs://``, ``s3://``), where folders
have no token, is one recursive listing of PATH, which also gives every file's token: when nothing changed that
one request is the whole cost, and only objects whose token changed are read. Nothing in here raises on bad
bytes; unreadable files are listed in :attr:`ScalarReader.problems`. Every file access goes through
:func:`ckptgui.storage.storage_for`.

A caller that needs the folders themselves (the runs view finds model_dirs by their checkpoint files) passes
``listed``: it is called with each folder and its entries whenever the reader lists that folder anew (and with an
empty list when a folder is gone), so it learns of every change at no extra request.

A caller that needs only some runs' points passes ``reads``: the runs it rejects are found (their files handed to
``listed`` as usual) but not read, so a table of many runs can take what it needs of a long training file from
its two ends (:func:`read_ends`) and read every point only of the runs it plots.

A :class:`ScalarReader` is meant to be driven by one thread at a time (the GUI's worker thread); an internal
lock serialises calls anyway, so a call from a second thread waits for the one in progress.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ckptgui.formats.events.reader import EventFileReader, read_span
from ckptgui.formats.events.series import Points, RunSeries, ScalarSeries
from ckptgui.formats.events.templates import RunDecoder, Tally
from ckptgui.storage import FileInfo, Storage, expand_path, name_of, parent_of, relative_path, scheme_of, storage_for

_RESCAN_RECENT_S = 2.0
END_SPAN = 4 << 10  # bytes read first at each end of a file by read_ends: about a hundred scalar records
END_SPAN_MAX = 256 << 10  # ... and at most, when the tail lacks a tag of the head
_MISSING = os.strerror(errno.ENOENT)


def is_event_file(name: str) -> bool:
    """TensorBoard's rule: a file whose name contains ``tfevents``."""
    return "tfevents" in name_of(name)


class _Run:
    """One run: its files (read in name order), its decoder and its series."""

    def __init__(self, name: str, tally: Tally) -> None:
        self.files: dict[str, EventFileReader] = {}
        self.decoder = RunDecoder(tally)
        self.series = RunSeries(name)


class ScalarReader:
    """Scalars of every run under ``path`` (a model_dir, a run folder or one event file), read incrementally.

    Creating one reads nothing; call :meth:`poll` (from one thread at a time; see the module docstring)
    whenever the plots should catch up. A path that does not exist yet is waited for.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        listed: Callable[[str, list[FileInfo]], None] | None = None,
        reads: Callable[[str], bool] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._listed = listed
        self._reads = reads  # run -> whether poll reads its files (default: every run)
        self._root = expand_path(self.path) if scheme_of(self.path) else os.path.abspath(self.path)
        self._storage: Storage = storage_for(self._root)
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._dirs: dict[str, str] = {}  # directory -> its change token when listed (a bucket: folders walked last)
        self._walked: dict[str, FileInfo] | None = None  # file -> entry, from this poll's recursive listing
        self._tally = Tally()
        self._problems: dict[str, str] = {}

    @property
    def file_versions(self) -> dict[str, str]:
        """Event file -> its ``file_version`` ("brain.Event:2" for every TF writer since 1.x)."""
        with self._lock:
            return dict(self._tally.file_versions)

    @property
    def problems(self) -> dict[str, str]:
        """File or directory -> why it could not be read at the last poll (missing PATH, permissions...)."""
        with self._lock:
            return dict(self._problems)

    @property
    def skipped_records(self) -> int:
        """Damaged records (CRC mismatch, garbled Event, damaged header) skipped so far."""
        return self._tally.skipped

    @property
    def other_values(self) -> int:
        """Summary values that are not scalars (histograms, images, other plugins' tensors) skipped so far."""
        return self._tally.other

    def runs(self) -> dict[str, list[str]]:
        """Run (path relative to ``path``, ``.`` for itself) -> its scalar tags, for every run found so far."""
        with self._lock:
            return {name: self._runs[name].series.tags() for name in sorted(self._runs)}

    def series(self, run: str, tag: str) -> ScalarSeries:
        """Every point of ``tag`` in ``run`` read so far; KeyError names what exists when there is no such series."""
        with self._lock:
            found = self._runs.get(run)
            if found is None:
                raise KeyError(f"no run {run!r} under {self.path}; runs: {', '.join(sorted(self._runs)) or 'none'}")
            return found.series.series(tag)

    def poll(self) -> list[ScalarSeries]:
        """Read what was added since the last call; the series that changed, holding only their new points."""
        with self._lock:
            self._discover()
            out = []
            for name in sorted(self._runs):
                run = self._runs[name]
                if self._reads is not None and not self._reads(name):
                    continue
                for path in sorted(run.files):
                    self._read_file(run, run.files[path])
                out.extend(run.series.changes())
            return out

    def _read_file(self, run: _Run, file: EventFileReader) -> None:
        def records(buf, offs, lens) -> None:
            run.series.merge(run.decoder.decode(file.path, buf, offs, lens))

        try:
            info = self._storage.info(file.path) if self._walked is None else self._walked.get(file.path)
            if info is None:
                return  # deleted: its points stay
            damaged_headers = file.read(info, records)  # the records' own damage is tallied while it reads
            self._tally.skipped += damaged_headers
        except OSError as exc:
            self._problems[file.path] = f"cannot read {file.path}: {exc.strerror or exc}"
            return
        self._problems.pop(file.path, None)

    # -- discovery --

    def _discover(self) -> None:
        if self._storage.lists_recursively:
            self._walk()
            return
        try:
            root = self._storage.info(self._root)
            reason = None if root is not None else _MISSING
        except OSError as exc:
            root, reason = None, exc.strerror or str(exc)
        if root is None:
            self._problems[self._root] = f"cannot read {self._root}: {reason}"
            return
        self._problems.pop(self._root, None)
        if not root.is_dir:
            self._add_file(".", self._root)
            return
        if not self._dirs:
            self._list_dirs(self._root)
            return
        now = time.time()
        for path, listed in list(self._dirs.items()):
            if path not in self._dirs:
                continue  # forgotten with its parent during this loop
            try:
                info = self._storage.info(path)
            except OSError:
                info = None
            if info is None or not info.is_dir:
                self._forget_dir(path)
                continue
            if info.token != listed or now - info.mtime < _RESCAN_RECENT_S:
                self._list_dirs(path)

    def _walk(self) -> None:
        """One recursive listing of the root: every event file registered, every file's entry kept for this poll."""
        try:
            files = self._storage.walk(self._root)
            if not files:  # nothing below: the root is one file, or not there (yet)
                root = self._storage.info(self._root)
                files = [root] if root is not None and not root.is_dir else []
                if root is None:
                    raise FileNotFoundError(errno.ENOENT, _MISSING, self._root)
        except OSError as exc:
            self._walked = {}
            self._problems[self._root] = f"cannot read {self._root}: {exc.strerror or exc}"
            return
        self._problems.pop(self._root, None)
        self._walked = {entry.path: entry for entry in files}
        if self._listed is not None:
            self._report_walk(files)
        for entry in files:
            if entry.path == self._root:
                self._add_file(".", entry.path)
            elif is_event_file(entry.name):
                self._add_file(relative_path(parent_of(entry.path), self._root).replace(os.sep, "/"), entry.path)

    def _report_walk(self, files: list[FileInfo]) -> None:
        """Hand ``listed`` the walk's files folder by folder; folders no longer there get an empty list."""
        folders: dict[str, list[FileInfo]] = {}
        for entry in files:
            folders.setdefault(parent_of(entry.path), []).append(entry)
        for gone in set(self._dirs) - set(folders):
            self._listed(gone, [])
        self._dirs = dict.fromkeys(folders, "")
        for folder, entries in folders.items():
            self._listed(folder, entries)

    def _list_dirs(self, top: str) -> None:
        """List ``top`` and every directory below it not listed before; register their event files."""
        stack = [top]
        while stack:
            path = stack.pop()
            try:
                info = self._storage.info(path)
                if info is None:
                    raise FileNotFoundError(errno.ENOENT, _MISSING, path)
                self._dirs[path] = info.token
                entries = self._storage.listdir(path)
            except OSError as exc:
                self._dirs.pop(path, None)
                if path == self._root:
                    self._problems[path] = f"cannot list {path}: {exc.strerror or exc}"
                continue
            if self._listed is not None:
                self._listed(path, entries)
            run = relative_path(path, self._root).replace(os.sep, "/")
            for entry in entries:
                if entry.is_dir:  # linked folders are not followed (a link loop would never end)
                    if entry.path not in self._dirs and not entry.is_link:
                        stack.append(entry.path)
                elif is_event_file(entry.name):
                    self._add_file(run, entry.path)

    def _forget_dir(self, path: str) -> None:
        prefix = path + os.sep
        for known in [d for d in self._dirs if d == path or d.startswith(prefix)]:
            del self._dirs[known]
            if self._listed is not None:
                self._listed(known, [])

    def _add_file(self, run_name: str, path: str) -> None:
        run = self._runs.get(run_name)
        if run is None:
            run = self._runs[run_name] = _Run(run_name, self._tally)
        if path not in run.files:
            run.files[path] = EventFileReader(self._storage, path)


@dataclass(frozen=True)
class FileEnds:
    """What a runs table needs of one event file, read from its two ends only (:func:`read_ends`)."""

    last_step: int | None  # the highest last step over the tags in the tail
    first_wall: float | None  # the earliest scalar's wall time in the head
    last_wall: float | None  # the latest scalar's wall time in the tail
    exact: bool  # False when the tail holds a restart or values of unknown kind: only a full read tells


def read_ends(path: str, size: int, span: int = END_SPAN) -> FileEnds:
    """The last step and the wall-time span of ``path`` (``size`` bytes) from its first and last ``span`` bytes.

    For a file whose steps only go up (one writer, no restart from an older checkpoint) these equal what reading
    every point gives when :attr:`FileEnds.exact`: a tag's series ends with its last point in the file, the file's
    first scalar is the earliest, and the tail holds every tag the head does (tags may count steps differently:
    Keras' epoch_* by epoch, *_vs_iterations by batch); a tail that lacks one is read again 8 times wider, up to
    :data:`END_SPAN_MAX`. A tag first written in the middle of the file and never near its end is the one case
    the ends cannot see. TFRecord framing lets the tail be read from any offset: the framing resyncs on the first
    header whose length CRC holds. Raises ``OSError`` as ``open`` does.
    """
    storage = storage_for(path)
    while True:
        ends, missing = _ends(storage, path, size, span)
        if not missing or span >= min(size, END_SPAN_MAX):
            return ends
        span *= 8


def _ends(storage: Storage, path: str, size: int, span: int) -> tuple[FileEnds, bool]:
    """The ends of ``path`` with ``span`` bytes each, and whether the tail lacks a tag of the head."""
    tally = Tally()
    decoder = RunDecoder(tally)

    def points(start: int, end: int) -> list[Points]:
        out: list[Points] = []
        read_span(storage, path, start, end, lambda buf, offs, lens: out.append(decoder.decode(path, buf, offs, lens)))
        return out

    head = points(0, min(size, span))
    other = tally.other
    tail = points(size - span, size) if size > span else head
    firsts = [float(p.arrays(tag)[2][0]) for p in head for tag in p.tags()]
    lasts = [(int(p.arrays(tag)[1][-1]), float(p.arrays(tag)[2][-1])) for p in tail for tag in p.tags()]
    missing = not {tag for p in head for tag in p.tags()} <= {tag for p in tail for tag in p.tags()}
    # A TF2 tensor is known for a scalar by the metadata of its tag's first value: a value in the tail whose kind
    # the head did not tell (or a restart), or an end without a scalar (a graph filled it), leaves only the full
    # read to say.
    exact = bool(firsts and lasts) and not missing and not any(p.markers for p in tail)
    exact = exact and (size <= span or tally.other == other)
    found = FileEnds(
        last_step=max((s for s, _ in lasts), default=None),
        first_wall=min(firsts, default=None),
        last_wall=max((w for _, w in lasts), default=None),
        exact=exact,
    )
    return found, missing


def read_scalars(path: str | os.PathLike[str]) -> dict[str, dict[str, ScalarSeries]]:
    """Every scalar under ``path`` at once: run -> tag -> series."""
    reader = ScalarReader(path)
    reader.poll()
    return {run: {tag: reader.series(run, tag) for tag in tags} for run, tags in reader.runs().items()}
