"""A folder of runs, kept up to date: what the runs view and ``ckptgui runs`` show.

One :class:`~ckptgui.formats.events.ScalarReader` over the parent folder does all the looking: it finds and
reads the event files of every run at any depth, and hands each folder it lists to :class:`RunsFolder`, which
finds the model_dirs among them (:func:`ckptgui.modeldir.runs.group_runs`). A poll that finds nothing new costs
what the reader's costs (a ``stat`` per folder and event file locally; one listing in a bucket); a run's row is
built again (its scan and run log read) only when a folder of it was listed with different entries, or its
scalars grew.

The table needs few of a run's points: every evaluation point (for the best value; evaluations are few), and of a
long training event file only its last step and wall-time span, which its two ends give
(:func:`~ckptgui.formats.events.runs.read_ends`, a few KiB). So a training event run that is one file over
:data:`~ckptgui.formats.events.runs.END_SPAN` is read from its ends until :meth:`RunsFolder.load` asks for its
runs' points (the plotted runs, an export); every other event run, and a loaded one from then on, is read whole
and incrementally. A run's row is the same either way, unless its training file restarts from an older step
without a ``SessionLog.START`` (then the tail cannot see orphaned points of other tags; a load corrects the row).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

from ckptgui.formats.events import ScalarReader, ScalarSeries, is_event_file
from ckptgui.formats.events.runs import END_SPAN, FileEnds, read_ends
from ckptgui.modeldir.layout import natural_key
from ckptgui.modeldir.records import RUN_FILENAME, RunLog, RunLogError, read_run_log
from ckptgui.modeldir.runs import EVAL_RUNS, RunRow, folder_kind, group_runs, make_row, plot_tag, run_status, sub_run
from ckptgui.modeldir.scan import CheckpointError, ModelDirInfo, scan
from ckptgui.storage import FileInfo, expand_path, one_look, relative_path, scheme_of, storage_for


class RunsFolder:
    """Every run below ``parent``, found and measured by :meth:`poll` (from one thread at a time)."""

    def __init__(self, parent: str | os.PathLike[str], clock: Callable[[], float] = time.time) -> None:
        text = os.fspath(parent)
        self.parent = expand_path(text) if scheme_of(text) else os.path.abspath(text)
        self._storage = storage_for(self.parent)
        self._clock = clock
        self._lock = threading.Lock()
        self._reader = ScalarReader(self.parent, listed=self._listed, reads=self._reads)
        self._listings: dict[str, list[FileInfo]] = {}  # folder (relative) -> its entries
        self._dirty: set[str] = set()  # folders listed with different entries since the last poll
        self._owner: dict[str, str] = {}  # marked folder -> its run
        self._home: dict[str, str] = {}  # any listed folder inside a run -> that run
        self._newest: dict[str, float] = {}  # run -> the newest modification time of its files
        self._rows: dict[str, RunRow] = {}
        self._logs: dict[str, tuple[str, RunLog | None, str]] = {}  # run -> (token of its run log, log, problem)
        self._infos: dict[str, ModelDirInfo | None] = {}
        self._members: dict[str, dict[str, list[str]]] = {}  # run -> its event runs -> their tags, at the last poll
        self._wanted: frozenset[str] = frozenset()  # runs whose every point is to be read (load); replaced, not changed
        self._whole: set[str] = set()  # event runs read whole (once read whole, always)
        self._ends: dict[str, tuple[str, FileEnds]] = {}  # event run -> (its file's token, its ends), read from ends
        self._ends_changed: set[str] = set()  # event runs whose ends were read again in this poll
        self._carried: set[str] = set()  # runs whose series grew outside poll (scalars): changed at the next poll
        self._loaded: frozenset[str] = frozenset()  # runs read whole at the last poll (read from any thread)

    def _reads(self, event_run: str) -> bool:
        """Reader's question, inside its poll: is ``event_run`` read whole? Else its ends are read here."""
        if event_run in self._whole:
            return True
        name = event_run.rpartition("/")[2]
        wanted = any(run == "." or event_run == run or event_run.startswith(run + "/") for run in self._wanted)
        files = [e for e in self._listings.get(event_run, []) if not e.is_dir and is_event_file(e.name)]
        if not wanted and name not in EVAL_RUNS and len(files) == 1 and files[0].size > END_SPAN:
            entry = files[0]
            known = self._ends.get(event_run)
            if known is None or known[0] != entry.token:
                try:
                    known = self._ends[event_run] = (entry.token, read_ends(entry.path, entry.size))
                except OSError:
                    known = None  # the reader's own read names the problem
                self._ends_changed.add(event_run)
            if known is not None and known[1].exact:
                return False
        self._whole.add(event_run)
        if self._ends.pop(event_run, None) is not None:
            self._ends_changed.add(event_run)
        return True

    def load(self, runs: Iterable[str]) -> bool:
        """Have the next poll read every point of ``runs`` (kept up to date from then on); True when any is new.

        Does not wait for a poll in progress (the GUI thread calls it): the set is replaced, never changed in place.
        """
        wanted = self._wanted
        new = set(runs) - wanted
        if new:
            self._wanted = wanted | new
        return bool(new)

    def loaded(self, run: str) -> bool:
        """Every point of ``run`` was read at the last poll (see :meth:`load`); cheap, from any thread."""
        return run in self._loaded

    def _listed(self, folder: str, entries: list[FileInfo]) -> None:
        relative = relative_path(folder, self.parent).replace(os.sep, "/")
        before = self._listings.get(relative)
        if before is not None and [(e.name, e.token) for e in before] == [(e.name, e.token) for e in entries]:
            return
        self._dirty.add(relative)
        if entries:
            self._listings[relative] = entries
        else:
            self._listings.pop(relative, None)

    @property
    def problems(self) -> dict[str, str]:
        """What could not be read at the last poll (the parent folder itself, a file), and why."""
        return self._reader.problems

    def poll(self) -> set[str]:
        """Look again; the runs that are new, gone (dropped from the rows) or whose row changed."""
        with self._lock:
            changed: set[str] = set()
            series_changes = self._reader.poll()
            if self._dirty:
                self._regroup()
                self._newest = {}
                for folder, entries in self._listings.items():
                    run = self._home.get(folder)
                    if run is not None and entries:
                        self._newest[run] = max(self._newest.get(run, 0.0), max(e.mtime for e in entries))
                changed |= {self._home[f] for f in self._dirty if f in self._home}
                self._dirty.clear()
            changed |= {self._owner[s.run] for s in series_changes if s.run in self._owner}
            changed |= {self._owner[e] for e in self._ends_changed if e in self._owner} | self._carried
            self._ends_changed.clear()
            self._carried.clear()
            if changed:
                self._collect_members()
            changed |= set(self._owner.values()) - set(self._rows)
            gone = set(self._rows) - set(self._owner.values())
            for event_run in [e for e in self._ends if e not in self._owner]:
                del self._ends[event_run]
            for run in gone:
                del self._rows[run]
                self._logs.pop(run, None)
                self._infos.pop(run, None)
            with one_look(self.parent):
                for run in changed - gone:
                    self._rows[run] = self._build(run)
            partial = {self._owner.get(e) for e in self._ends}
            self._loaded = frozenset(run for run in self._owner.values() if run not in partial)
            now = self._clock()
            for run, row in self._rows.items():  # training turns stale with time alone
                status = run_status(self._logs.get(run, ("", None, ""))[1], self._newest.get(run, 0.0), now)
                if status != row.status:
                    row.status = status
                    changed.add(run)
            return changed | gone

    def rows(self) -> list[RunRow]:
        """One row per run, in name order."""
        with self._lock:
            return [self._rows[name] for name in sorted(self._rows, key=natural_key)]

    def row(self, run: str) -> RunRow:
        with self._lock:
            return self._rows[run]

    def checkpoints(self, run: str) -> ModelDirInfo | None:
        """The run's last scan (None when its folder could not be scanned)."""
        with self._lock:
            return self._infos.get(run)

    def series(self, run: str) -> dict[str, ScalarSeries]:
        """Plotted tag (``loss``, ``eval/accuracy``) -> every point read so far, for one run."""
        with self._lock:
            return self._series_of(run)

    def scalars(self, runs: Iterable[str] | None = None) -> list[ScalarSeries]:
        """Every series of the given runs (all when None), named as the event files' folders relative to the parent.

        That is the long format of ``ckptgui scalars PARENT --csv``: run ``a/eval``, tag ``accuracy``.
        """
        with self._lock:
            wanted = set(self._rows) if runs is None else set(runs)
            if wanted - self._wanted:  # their training points were read from the ends only: read them all now
                self._wanted = self._wanted | wanted
                grown = self._reader.poll()
                self._carried |= {self._owner[s.run] for s in grown if s.run in self._owner}
                self._collect_members()
            out = []
            for run in sorted(wanted & set(self._members), key=natural_key):
                for event_run, tags in self._members[run].items():
                    out.extend(self._reader.series(event_run, tag) for tag in tags)
            return out

    # -- inside poll --

    def _regroup(self) -> None:
        kinds = {folder: folder_kind(entries) for folder, entries in self._listings.items()}
        self._owner = group_runs(kinds)
        runs = set(self._owner.values())
        self._home = {}
        for folder in self._listings:
            at = folder
            while at not in runs and at != ".":
                at = at.rpartition("/")[0] or "."
            if at in runs:
                self._home[folder] = at

    def _collect_members(self) -> None:
        self._members = {}
        for event_run, tags in self._reader.runs().items():
            if event_run in self._owner:
                self._members.setdefault(self._owner[event_run], {})[event_run] = tags

    def _series_of(self, run: str) -> dict[str, ScalarSeries]:
        out = {}
        for event_run, tags in self._members.get(run, {}).items():
            sub = sub_run(event_run, run)
            for tag in tags:
                out[plot_tag(sub, tag)] = self._reader.series(event_run, tag)
        return out

    def _files(self, run: str) -> list[FileInfo]:
        return [e for folder, entries in self._listings.items() if self._home.get(folder) == run for e in entries]

    def _path(self, run: str) -> str:
        return self.parent if run == "." else self._storage.join(self.parent, *run.split("/"))

    def _build(self, run: str) -> RunRow:
        path = self._path(run)
        problems = []
        try:
            info: ModelDirInfo | None = scan(path)
        except (CheckpointError, OSError) as exc:
            info = None
            problems.append(str(exc))
        self._infos[run] = info
        token = next((e.token for e in self._listings.get(run, []) if e.name == RUN_FILENAME), "")
        cached = self._logs.get(run)
        if cached is None or cached[0] != token:
            try:
                cached = (token, read_run_log(path) if token else None, "")
            except RunLogError as exc:
                cached = (token, None, str(exc))
            self._logs[run] = cached
        if cached[2]:
            problems.append(cached[2])
        ends = [found for event_run, (_token, found) in self._ends.items() if self._owner.get(event_run) == run]
        return make_row(
            run, path, info, cached[1], self._series_of(run), self._files(run), self._clock(), "; ".join(problems), ends
        )
