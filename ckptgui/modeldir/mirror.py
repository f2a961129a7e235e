"""Training into a bucket TensorFlow cannot write (``s3://``): a local staging folder, mirrored after each save.

TensorFlow 2.21 has no ``s3://`` file system. A run into such a bucket trains into a local staging folder;
:meth:`Mirror.pull` first copies the bucket's model_dir there (all but event files, which a run only adds to),
and :meth:`Mirror.push`, after each checkpoint, uploads what changed in an order that keeps every reader of the
bucket consistent:

1. each new checkpoint's ``.data`` shards, then its ``.index`` (an index is seen only once its data is there);
2. the other changed files (events, run log, ledger, pins, graph);
3. the ``checkpoint`` state file last, so it never names a checkpoint whose files are not all uploaded;
4. then the checkpoints retention swept from the staging folder are deleted from the bucket, but only those the
   ledger says ckptgui wrote: nothing else in a bucket is ever deleted.

Temporary folders of a save in progress and our own temporary files are never uploaded. A failed request raises
the storage's ``OSError``; what was uploaded before it is consistent by the order above.
"""

from __future__ import annotations

import contextlib
import os

from ckptgui.formats.statefile import STATE_FILENAME
from ckptgui.modeldir.layout import DATA_FILE, EVENTS_PREFIX, INDEX_FILE, META_FILE, TEMP_DIR, step_of
from ckptgui.modeldir.lock import LOCK_FILENAME
from ckptgui.modeldir.records import read_written
from ckptgui.storage import LOCAL, FileInfo, relative_path, storage_for


class Mirror:
    """A local staging folder and the bucket folder it is mirrored to."""

    def __init__(self, staging: str, remote: str) -> None:
        self.staging = staging
        self.remote = remote
        self._storage = storage_for(remote)
        self._sent: dict[str, str] = {}  # relative path -> local change token of the copy in the bucket

    def pull(self) -> list[str]:
        """Copy the bucket's model_dir into the staging folder (event files left out); the relative paths copied."""
        copied = []
        for entry in self._storage.walk(self.remote):
            relative = relative_path(entry.path, self.remote)
            if _skipped(relative) or entry.name.startswith(EVENTS_PREFIX):
                continue
            local = os.path.join(self.staging, *relative.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            LOCAL.write_atomic(local, self._storage.read(entry.path))
            self._sent[relative] = LOCAL.info(local).token
            copied.append(relative)
        return copied

    def push(self) -> list[str]:
        """Upload what changed in the staging folder, in the safe order; delete what retention swept (ours only).

        Returns the relative paths uploaded, in the order they were.
        """
        files = {relative: entry for relative, entry in self._local_files() if not _skipped(relative)}
        changed = sorted((r for r, entry in files.items() if self._sent.get(r) != entry.token), key=_upload_order)
        for relative in changed:
            self._storage.write_atomic(self._remote_path(relative), LOCAL.read(files[relative].path))
            self._sent[relative] = files[relative].token
        written, _ = read_written(self.staging)
        for relative in sorted(set(self._sent) - set(files)):
            step = _checkpoint_step(relative)
            if step is not None and step in written:
                with contextlib.suppress(FileNotFoundError):  # already gone
                    self._storage.delete(self._remote_path(relative))
            del self._sent[relative]
        return changed

    def _remote_path(self, relative: str) -> str:
        return self._storage.join(self.remote, *relative.split("/"))

    def _local_files(self) -> list[tuple[str, FileInfo]]:
        found, pending = [], [self.staging]
        while pending:
            for entry in LOCAL.listdir(pending.pop()):
                if entry.is_dir:
                    if not entry.is_link:
                        pending.append(entry.path)
                else:
                    found.append((relative_path(entry.path, self.staging).replace(os.sep, "/"), entry))
        return found


def _skipped(relative: str) -> bool:
    """A save in progress (``*_temp/``), our own temporary file of an atomic write, or the staging folder's lock."""
    parts = relative.split("/")
    return (
        relative == LOCK_FILENAME
        or any(TEMP_DIR.match(part) for part in parts[:-1])
        or (parts[-1].startswith(".") and parts[-1].endswith(".tmp"))
    )


def _upload_order(relative: str) -> tuple[int, str]:
    name = relative.rsplit("/", 1)[-1]
    if DATA_FILE.match(name):
        return 0, relative
    if INDEX_FILE.match(name):
        return 1, relative
    return (3 if relative == STATE_FILENAME else 2), relative


def _checkpoint_step(relative: str) -> int | None:
    """The step of a checkpoint file at the top of the model_dir (data, index, meta), None for any other file."""
    if "/" in relative:
        return None
    for pattern in (DATA_FILE, INDEX_FILE, META_FILE):
        match = pattern.match(relative)
        if match:
            return step_of(match["prefix"])
    return None
