"""The one seam through which ``formats/`` and ``modeldir/`` touch files: list, stat, read, write, delete.

Every file access of the readers and of retention goes through a :class:`Storage`, chosen for a path by
:func:`storage_for`. Only local paths exist today (:class:`LocalStorage`, plain ``os`` calls, so nothing is slower
than before); a remote model_dir (``gs://``, ``s3://``) will be another implementation of the same methods, so the
readers above this seam never learn where their bytes come from. The interface follows fsspec's
``AbstractFileSystem`` (``ls(detail=True)``, ``info``, ``cat_file(start, end)``, ``open``), which gcsfs and s3fs
implement.

What a reader can rely on:

* :meth:`Storage.listdir` is one listing request and returns every entry with its size, modification time and
  a *change token*: equal tokens mean unchanged content (local: inode, size and mtime in nanoseconds; remote:
  the object's generation or ETag). Incremental readers key their caches on it.
* :meth:`Storage.read` reads a whole file or a byte range; a range past the end returns what exists.
* :meth:`Storage.write_atomic` replaces a file so that a reader sees the old content or the new, never a mix.
* :meth:`Storage.delete` removes one file and never follows a symbolic link to somewhere else.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, NamedTuple


class StorageError(OSError):
    """A path no storage here can serve (an unknown URL scheme); the message says what is supported."""


class FileInfo(NamedTuple):
    """One entry of a listing (a tuple: a reader builds one per file per poll, so it must be cheap)."""

    path: str
    name: str
    size: int
    mtime: float
    is_dir: bool
    token: str  # equal tokens: unchanged content
    is_link: bool = False  # a symbolic link (readers do not follow linked folders)

    @property
    def is_file(self) -> bool:
        return not self.is_dir


class Storage:
    """What ``formats/`` and ``modeldir/`` may do with files; one implementation per kind of location."""

    def join(self, base: str | os.PathLike, *names: str) -> str:
        raise NotImplementedError

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        """The folder's entries (not recursive), in one request; raises ``OSError`` when it cannot be listed."""
        raise NotImplementedError

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        """The entry at ``path``, None when nothing is there."""
        raise NotImplementedError

    def read(self, path: str | os.PathLike, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a file (to its end when ``end`` is None)."""
        raise NotImplementedError

    def open(self, path: str | os.PathLike, mode: str = "rb") -> IO:
        raise NotImplementedError

    def write_atomic(self, path: str | os.PathLike, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, path: str | os.PathLike) -> None:
        raise NotImplementedError


class LocalStorage(Storage):
    """Local files through ``os``: the calls the readers made before this seam existed, so the speed is theirs."""

    def join(self, base: str | os.PathLike, *names: str) -> str:
        return os.path.join(os.fspath(base), *names)

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        entries = []
        with os.scandir(path) as listing:
            for item in listing:
                try:
                    entries.append(_info(item.path, item.name, item.stat(), item.is_symlink()))
                except OSError:
                    continue  # removed between the listing and its stat (a trainer's sweep)
        return entries

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        text = os.fspath(path)
        try:
            return _info(text, os.path.basename(text), os.stat(text))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read(self, path: str | os.PathLike, start: int = 0, end: int | None = None) -> bytes:
        with open(path, "rb") as handle:
            if start:
                handle.seek(start)
            return handle.read() if end is None else handle.read(max(0, end - start))

    def open(self, path: str | os.PathLike, mode: str = "rb") -> IO:
        return open(path, mode)

    def write_atomic(self, path: str | os.PathLike, data: bytes) -> None:
        """Write a sibling temporary file and rename it over ``path``.

        No fsync: as TensorFlow's own state-file writer, the rename alone gives readers the old or the new content;
        an fsync costs about 7 ms here and the state file is rewritten at every checkpoint save.
        """
        target = os.fspath(path)
        folder, name = os.path.split(target)
        handle, temporary = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def delete(self, path: str | os.PathLike) -> None:
        os.unlink(path)  # unlink removes a link itself, never what it points to


def _info(path: str, name: str, st: os.stat_result, is_link: bool = False) -> FileInfo:
    token = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    return FileInfo(path, name, st.st_size, st.st_mtime, stat.S_ISDIR(st.st_mode), token, is_link)


class _OneLook(Storage):
    """A storage seen within :func:`one_look`: each folder listed once, entries of listed folders stat-free."""

    def __init__(self, base: Storage, listings: dict[str, list[FileInfo]]) -> None:
        self._base = base
        self._listings = listings

    def join(self, base: str | os.PathLike, *names: str) -> str:
        return self._base.join(base, *names)

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        key = os.path.normpath(os.fspath(path))
        if key not in self._listings:
            self._listings[key] = self._base.listdir(path)
        return self._listings[key]

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        folder, name = os.path.split(os.path.normpath(os.fspath(path)))
        listing = self._listings.get(folder)
        if listing is None or not name:
            return self._base.info(path)
        return next((entry for entry in listing if entry.name == name), None)

    def read(self, path: str | os.PathLike, start: int = 0, end: int | None = None) -> bytes:
        return self._base.read(path, start, end)

    def open(self, path: str | os.PathLike, mode: str = "rb") -> IO:
        return self._base.open(path, mode)

    def write_atomic(self, path: str | os.PathLike, data: bytes) -> None:
        raise PermissionError(f"{os.fspath(path)}: nothing is written during a look")

    def delete(self, path: str | os.PathLike) -> None:
        raise PermissionError(f"{os.fspath(path)}: nothing is deleted during a look")


LOCAL = LocalStorage()
_looks = threading.local()


@contextlib.contextmanager
def one_look() -> Iterator[None]:
    """Within the block, on this thread, every reader sees one consistent listing per folder.

    A live view's refresh lists the files, scans the checkpoints and explains retention: three readers that would
    each list the same folders (and stat what they found). Inside ``one_look`` each folder is listed once and an
    entry's ``info`` comes from its folder's listing; reads of file contents are not cached. Nested blocks share the
    outer look. Writing or deleting inside a look is refused: a look only reads.
    """
    outer = getattr(_looks, "listings", None)
    _looks.listings = {} if outer is None else outer
    try:
        yield
    finally:
        _looks.listings = outer


def scheme_of(path: str | os.PathLike) -> str:
    """``gs`` for ``gs://bucket/x``; "" for a local path (a Windows drive letter is not a scheme)."""
    text = os.fspath(path)
    head, sep, _ = text.partition("://")
    return head.lower() if sep and len(head) > 1 and head.isalnum() else ""


def storage_for(path: str | os.PathLike) -> Storage:
    """The storage that serves ``path``; raises :class:`StorageError` naming what is supported."""
    scheme = scheme_of(path)
    if not scheme:
        listings = getattr(_looks, "listings", None)
        return LOCAL if listings is None else _OneLook(LOCAL, listings)
    raise StorageError(f"{os.fspath(path)}: {scheme}:// paths are not supported; use a local path")
