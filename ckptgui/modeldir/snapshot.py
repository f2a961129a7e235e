"""One look at a model_dir for a live view: its files, its checkpoints, why each is kept, which are pinned.

Qt-free so it runs on any thread and is tested without a window. One look is
one listing of each folder (:func:`ckptgui.storage.one_look`: the file list, the
checkpoint scan and ``why_kept`` share it; in a bucket, one recursive listing for
them all), the pins file and the ledger read once; the pins are taken from the
reasons ``why_kept`` gives. A look whose listing equals the previous one reads
nothing else: watching an idle model_dir in a bucket costs one request per look.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from ckptgui.modeldir.records import LedgerReader
from ckptgui.modeldir.retention import KEPT_PINNED, why_kept
from ckptgui.modeldir.scan import ModelDirInfo, scan
from ckptgui.storage import one_look, storage_for

MAX_FILES = 5000


@dataclass(frozen=True)
class FileEntry:
    name: str  # relative to the model_dir, "/"-separated ("eval/events.out.tfevents…")
    size: int
    mtime: float
    is_dir: bool = False


@dataclass
class Snapshot:
    """What one look at the model_dir found; ``info`` is None when the checkpoints could not be read."""

    path: str
    files: tuple[FileEntry, ...]
    exists: bool
    info: ModelDirInfo | None = None
    error: str | None = None
    pins: set[int] = field(default_factory=set)
    kept: dict[int, list[str]] = field(default_factory=dict)  # step -> retention reasons (retention.why_kept)
    metrics: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> evaluation at its save (ledger)
    taken_at: float = 0.0  # time.time() when the listing was made


def list_files(path: str) -> tuple[FileEntry, ...] | None:
    """The model_dir's files and those one folder down (``eval/``, ``*_temp/``), by name; None if it cannot be listed.

    At most ``MAX_FILES`` entries: a model_dir with more is still shown, truncated.
    """
    return _list_files(path)[0]


def _list_files(path: str) -> tuple[tuple[FileEntry, ...] | None, str]:
    """:func:`list_files`, and why the listing failed when it did for another reason than a missing folder (a
    bucket refusing the credentials, an unreachable service): "" otherwise."""
    storage = storage_for(path)
    entries: list[FileEntry] = []
    failure = ""

    def walk(folder: str, prefix: str, depth: int) -> bool:
        nonlocal failure
        try:
            items = sorted(storage.listdir(folder), key=lambda item: item.name)
        except FileNotFoundError:
            return False
        except OSError as exc:
            failure = exc.strerror or str(exc)
            return False
        for item in items:
            if len(entries) >= MAX_FILES:
                break
            name = prefix + item.name
            if item.is_dir:
                entries.append(FileEntry(name + "/", 0, item.mtime, True))
                if depth == 0:
                    walk(item.path, name + "/", 1)
            else:
                entries.append(FileEntry(name, item.size, item.mtime))
        return True

    return (tuple(entries), "") if walk(path, "", 0) else (None, failure)


def take_snapshot(path: str, previous: tuple[FileEntry, ...] | None, ledger: LedgerReader) -> Snapshot | None:
    """Look at ``path`` once; None when its listing equals ``previous`` (nothing to redraw). Never raises.

    ``ledger`` is the caller's incremental reader of the model_dir's ledger, kept between looks.
    """
    with one_look(path):
        return _look_at(path, previous, ledger)


def _look_at(path: str, previous: tuple[FileEntry, ...] | None, ledger: LedgerReader) -> Snapshot | None:
    taken_at = time.time()
    try:
        listed, failure = _list_files(path)
    except OSError as exc:  # no storage serves the path (a missing extra): said like any failed listing
        listed, failure = None, exc.strerror or str(exc)
    files = listed or ()
    if previous is not None and files == previous and not failure:
        return None
    snapshot = Snapshot(path, files, listed is not None, taken_at=taken_at)
    if not snapshot.exists:
        snapshot.error = f"cannot be listed: {failure}" if failure else None
        return snapshot
    try:
        snapshot.info = scan(path)
    except Exception as exc:  # noqa: BLE001 - a reader failure is shown, never raised into the caller
        snapshot.error = f"cannot read the checkpoints: {exc}"
    try:
        snapshot.kept = why_kept(path, ledger)
    except Exception as exc:  # noqa: BLE001 - a damaged run log or pins file: say so, list the rest
        snapshot.error = snapshot.error or f"cannot tell why checkpoints are kept: {exc}"
    snapshot.pins = {step for step, reasons in snapshot.kept.items() if KEPT_PINNED in reasons}
    with contextlib.suppress(OSError):  # why_kept read it already: this is its cached result
        snapshot.metrics = dict(ledger.read())
    return snapshot


def kept_text(snapshot: Snapshot, step: int | None, listed: bool) -> str:
    """Which retention rules keep this checkpoint, in words."""
    reasons = snapshot.kept.get(step, []) if step is not None else []
    if reasons:
        return ", ".join(reasons)
    return "listed, no rule (next save may sweep it)" if listed else "not in the state file"
