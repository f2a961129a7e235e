"""What ckptgui records inside a model_dir, beside the checkpoints.

``ckptgui_run.json`` — the guide's advice to keep a copy of whatever created a
model_dir, done automatically: the network, schedule and data behind the
checkpoints, versions, one history entry per train call, and the steps kept
for good by the every-N-hours rule.

``ckptgui_written.txt`` — the checkpoints our runs wrote, one per line: the
step, the evaluation metrics at that step (for keep-best retention) and
``files=`` the name and size of each file of the checkpoint, appended as each
is saved (an append costs microseconds; rewriting the run log at every save
cost more than the training steps between saves). Retention only ever deletes
files named here, in the model_dir, while their size is still the recorded
one: a step number alone does not identify a checkpoint (another program's
``ckpt-3``, a state file naming ``../other/model.ckpt-3``). Lines written
before the sizes were recorded identify nothing, so their checkpoints are
never deleted.

``ckptgui_pins.json`` — steps the user pinned; retention never deletes them.
Kept in a separate file so the window can pin while a trainer is writing the
run log.

Every file access goes through :mod:`ckptgui.storage`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ckptgui.modeldir.config import ConfigError, RunSpec
from ckptgui.storage import storage_for

RUN_FILENAME = "ckptgui_run.json"
PINS_FILENAME = "ckptgui_pins.json"
LEDGER_FILENAME = "ckptgui_written.txt"


class RunLogError(ValueError):
    """A file in the model_dir that cannot be read (ours, or the ``checkpoint`` state file); names the file."""


@dataclass
class RunLog:
    """``ckptgui_run.json`` decoded once: every reader gets the typed spec, or the reason there is none."""

    spec: RunSpec | None = None  # what the last train call here ran with (model_dir included)
    spec_problem: str = ""  # why ``spec`` is None although the file has one
    data: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    preserved: list[int] = field(default_factory=list)  # kept for keep_checkpoint_every_n_hours

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "ckptgui-run/1",
                "spec": self.spec.to_dict() if self.spec else {},
                "data": self.data,
                "history": self.history,
                "preserved": sorted(set(self.preserved)),
            },
            indent=2,
        )


def _path(model_dir: str | os.PathLike, name: str) -> str:
    return storage_for(model_dir).join(model_dir, name)


MAX_RECORD_BYTES = 64 * 1024 * 1024  # a run log or pins file beyond this is not one of ours


def _read_json(path: str) -> Any:
    """The JSON in ``path``, None when there is none; any damage is a :class:`RunLogError` naming the file.

    Damage includes what ``json`` raises beyond ``JSONDecodeError``: a directory in the file's place, deep
    nesting (RecursionError), a huge file, and non-finite numbers (``1e400`` decodes to inf).
    """
    storage = storage_for(path)
    try:
        found = storage.info(path)
        if found is None:
            return None
        if found.is_dir or not found.is_file:
            raise RunLogError(f"{path}: is not a regular file; move it aside")
        if found.size > MAX_RECORD_BYTES:
            raise RunLogError(f"{path}: {found.size:,} bytes, more than any ckptgui file holds; move it aside")
        return json.loads(storage.read(path).decode("utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        return None
    except RunLogError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else getattr(exc, "strerror", None) or exc
        raise RunLogError(f"{path}: cannot be read ({reason}); move it aside") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _steps(path: str, field: str, values: Any) -> list[int]:
    """A list of step numbers (non-negative integers), or a RunLogError naming the file and field."""
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise RunLogError(f"{path}: {field!r} must be a list of step numbers (non-negative integers)")
    return values


def _write_json(path: str, text: str) -> None:
    storage_for(path).write_atomic(path, text.encode("utf-8"))


def read_run_log(model_dir: str | os.PathLike) -> RunLog | None:
    path = _path(model_dir, RUN_FILENAME)
    data = _read_json(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise RunLogError(f"{path}: expected a JSON object")
    history, described = data.get("history") or [], data.get("data") or {}
    if not isinstance(history, list) or not all(isinstance(entry, dict) for entry in history):
        raise RunLogError(f"{path}: 'history' must be a list of objects")
    if not isinstance(described, dict):
        raise RunLogError(f"{path}: 'data' must be an object")
    spec, problem = _decode_spec(data.get("spec"))
    return RunLog(
        spec=spec,
        spec_problem=problem,
        data=described,
        history=list(history),
        preserved=_steps(path, "preserved", data.get("preserved") or []),
    )


def _decode_spec(raw: Any) -> tuple[RunSpec | None, str]:
    if not raw:
        return None, ""
    try:
        return RunSpec.from_dict(raw), ""
    except (ConfigError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        return None, str(exc)


def write_run_log(model_dir: str | os.PathLike, log: RunLog) -> None:
    _write_json(_path(model_dir, RUN_FILENAME), log.to_json())


def read_pins(model_dir: str | os.PathLike) -> set[int]:
    path = _path(model_dir, PINS_FILENAME)
    data = _read_json(path)
    if data is None:
        return set()
    if not isinstance(data, dict):
        raise RunLogError(f'{path}: expected {{"pinned": [steps]}}')
    return set(_steps(path, "pinned", data.get("pinned")))


def set_pinned(model_dir: str | os.PathLike, step: int, pinned: bool = True) -> set[int]:
    """Pin or unpin one step; returns the pins now stored."""
    pins = read_pins(model_dir)
    if pinned:
        pins.add(step)
    else:
        pins.discard(step)
    _write_json(_path(model_dir, PINS_FILENAME), json.dumps({"pinned": sorted(pins)}, indent=2))
    return pins


FILES_KEY = "files"  # the ledger field naming the checkpoint's files and sizes: files=a.index:123,a.data-…:456


def _parse_files(text: str) -> dict[str, int]:
    """``a.index:123,a.data-00000-of-00001:456`` -> name -> size; a name with a folder in it is refused."""
    files = {}
    for item in text.split(","):
        name, _, size = item.rpartition(":")
        bad = not name or name in (".", "..") or any(c in name for c in "/\\, \t\n")
        if bad or not size.isdigit():
            raise ValueError(item)
        files[name] = int(size)
    return files


def _parse_ledger(
    text: str, metrics: dict[int, dict[str, float]], files: dict[int, dict[str, int]] | None = None
) -> None:
    """Add the ledger lines in ``text`` to ``metrics`` (step -> metrics) and ``files`` (step -> name -> size).

    Malformed lines are skipped. A step written again replaces its earlier line (a line without files clears
    the files: what it names is no longer known to be ours).
    """
    for line in text.splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue
        try:
            pairs = dict(f.split("=", 1) for f in fields[1:])
            named = _parse_files(pairs.pop(FILES_KEY)) if FILES_KEY in pairs else {}
            values = {key: float(value) for key, value in pairs.items()}
        except ValueError:
            continue
        metrics[int(fields[0])] = values
        if files is not None:
            files[int(fields[0])] = named


def read_ledger(model_dir: str | os.PathLike) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, int]]]:
    """Step -> evaluation metrics, and step -> the files (name -> size) of each checkpoint ckptgui wrote here."""
    path = _path(model_dir, LEDGER_FILENAME)
    try:
        text = storage_for(path).read(path).decode("ascii", errors="replace")
    except FileNotFoundError:
        return {}, {}
    metrics: dict[int, dict[str, float]] = {}
    files: dict[int, dict[str, int]] = {}
    _parse_ledger(text, metrics, files)
    return metrics, files


def read_written(model_dir: str | os.PathLike) -> tuple[set[int], dict[int, dict[str, float]]]:
    """Steps of the checkpoints ckptgui wrote here, and their evaluation metrics (a torn last line is ignored)."""
    metrics, _ = read_ledger(model_dir)
    return set(metrics), metrics


class LedgerReader:
    """``read_written`` for a reader that looks again and again: each look parses only the lines added since.

    The ledger only grows. The directory view looks several times a second while a run saves; parsing the
    whole ledger each time grew with every checkpoint ever written. A look that finds the file changed reads
    from just before where the last one stopped: when those bytes are no longer the last line it parsed, or
    the file is shorter, the ledger was replaced and is read again from the start (a content check, so it
    holds on any storage, where an inode does not exist). A last line without its newline is left for the
    next look.
    """

    def __init__(self, model_dir: str | os.PathLike) -> None:
        self.path = _path(model_dir, LEDGER_FILENAME)
        self.storage = storage_for(self.path)
        self._token: str | None = None
        self._offset = 0
        self._last_line = b""  # the bytes just before _offset: the last complete line parsed
        self._metrics: dict[int, dict[str, float]] = {}
        self.files: dict[int, dict[str, int]] = {}  # step -> file name -> size, as of the last read()

    def read(self) -> dict[int, dict[str, float]]:
        """Step -> metrics of every checkpoint ckptgui wrote here; the caller must not change it."""
        info = self.storage.info(self.path)
        if info is None:
            self._restart(None)
            return self._metrics
        if info.token == self._token:
            return self._metrics
        start = self._offset - len(self._last_line)
        added = self.storage.read(self.path, start) if info.size >= self._offset else b""
        if not added.startswith(self._last_line) or info.size < self._offset:
            self._restart(info.token)
            added, start = self.storage.read(self.path), 0
        else:
            self._token = info.token
        complete = added.rfind(b"\n") + 1
        if complete > self._offset - start:
            text = added[self._offset - start : complete].decode("ascii", errors="replace")
            _parse_ledger(text, self._metrics, self.files)
            self._last_line = added[added.rfind(b"\n", 0, complete - 1) + 1 : complete]
            self._offset = start + complete
        return self._metrics

    def _restart(self, token: str | None) -> None:
        self._token, self._offset, self._last_line, self._metrics, self.files = token, 0, b"", {}, {}


def record_written(
    model_dir: str | os.PathLike,
    step: int,
    metrics: dict[str, float] | None = None,
    files: dict[str, int] | None = None,
) -> None:
    """Append one line ``<step> accuracy=… loss=… files=<name>:<size>,…``: cheap enough to do at every save.

    ``files``: the checkpoint's files in the model_dir (bare names) and their sizes, as just written; only
    these may ever be deleted by retention.
    """
    values = " ".join(f"{key}={value!r}" for key, value in (metrics or {}).items())
    if files:
        named = ",".join(f"{name}:{size}" for name, size in sorted(files.items()))
        _parse_files(named)  # refuses a path, or a name the line could not hold
        values += f" {FILES_KEY}={named}"
    path = _path(model_dir, LEDGER_FILENAME)
    with storage_for(path).open(path, "ab") as ledger:
        ledger.write(f"{step} {values}".rstrip().encode("ascii") + b"\n")
