"""Knowing when a model_dir changed: QFileSystemWatcher, coalesced, with a polling fallback.

Measured: ~97 ``directoryChanged`` signals for 10 saves, a watch on
the ``checkpoint`` file itself dies at its first atomic rename, and inotify is
silent on network file systems. So the directory (and its subdirectories, for
``eval/``) is watched, bursts are coalesced into one ``changed`` at most
``debounce_ms`` after the first signal of a burst (a trailing debounce that a
steady stream of saves would starve), and a timer emits ``changed`` every
``poll_ms`` anyway; the listing job that follows is cheap when nothing moved.

A model_dir in a bucket (``gs://``, ``s3://``) has no file-system events and each look is a request: the timer
alone drives it, on the interval of a :class:`ckptgui.workspace.polling.Backoff` (5 s, up to 30 s while looks
find nothing new; the view reports each look's outcome through :meth:`DirectoryWatcher.looked`), and it does
not look while the window is minimised.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from ckptgui.storage import scheme_of
from ckptgui.workspace.polling import Backoff

DEBOUNCE_MS = 100
POLL_MS = 1000


class DirectoryWatcher(QObject):
    """Emits ``changed`` when the watched model_dir may have changed."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._path: str | None = None
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_fs_event)
        self._watcher.fileChanged.connect(self._on_fs_event)
        self._debounce = QTimer(self, singleShot=True, interval=debounce_ms)
        self._debounce.timeout.connect(self._fire)
        self._poll_ms = poll_ms
        self._poll = QTimer(self, interval=poll_ms)
        self._poll.timeout.connect(self._fire)
        self._backoff: Backoff | None = None  # for a model_dir in a bucket
        self.fs_events = 0  # signals received from the watcher, for the curious and for tests

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def poll_interval_ms(self) -> int:
        return self._poll.interval()

    def set_path(self, path: str | None) -> None:
        self._unwatch()
        self._path = path
        if path is None:
            self._poll.stop()
            return
        self._backoff = Backoff() if scheme_of(path) else None
        self._poll.setInterval(self._poll_ms if self._backoff is None else round(self._backoff.interval_s * 1000))
        self._rewatch()
        self._poll.start()
        self._fire()

    def looked(self, changed: bool) -> None:
        """A look ended, finding something new or not: a bucket's poll interval follows (a local one's stays)."""
        if self._backoff is not None:
            self._poll.setInterval(round(self._backoff.looked(changed) * 1000))

    def set_debounce(self, ms: int) -> None:
        self._debounce.setInterval(ms)

    @Slot()
    def poke(self) -> None:
        """Something changed (a save the trainer reported): look within one debounce interval."""
        if self._path is not None and not self._debounce.isActive():
            self._debounce.start()

    def _unwatch(self) -> None:
        watched = self._watcher.directories() + self._watcher.files()
        if watched:
            self._watcher.removePaths(watched)

    def _rewatch(self) -> None:
        """Watch the directory and its subdirectories that exist now (``eval/`` appears after the first save)."""
        if self._path is None or self._backoff is not None or not Path(self._path).is_dir():
            return
        wanted = [self._path]
        with contextlib.suppress(OSError):  # gone meanwhile: the poll will notice
            wanted += [entry.path for entry in os.scandir(self._path) if entry.is_dir(follow_symlinks=False)]
        missing = [p for p in wanted if p not in self._watcher.directories()]
        if missing:
            self._watcher.addPaths(missing)

    @Slot(str)
    def _on_fs_event(self, _path: str) -> None:
        self.fs_events += 1
        if not self._debounce.isActive():
            self._debounce.start()

    @Slot()
    def _fire(self) -> None:
        self._debounce.stop()
        if self._backoff is not None and self._window_minimised():
            return  # a bucket is not polled for a window nobody sees; the next tick after restoring looks
        self._rewatch()
        self.changed.emit()

    def _window_minimised(self) -> bool:
        owner = self.parent()
        return isinstance(owner, QWidget) and owner.window().isMinimized()
