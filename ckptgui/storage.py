"""The one seam through which ``formats/`` and ``modeldir/`` touch files: list, stat, read, write, delete.

Every file access of the readers and of retention goes through a :class:`Storage`, chosen for a path by
:func:`storage_for`: local paths through :class:`LocalStorage` (plain ``os`` calls, so nothing is slower than
before), URLs such as ``gs://bucket/run`` or ``s3://bucket/run`` through :class:`RemoteStorage` over an fsspec
file system (gcsfs, s3fs: the optional extras ``ckptgui[gcs]`` and ``ckptgui[s3]``). The readers above this seam
never learn where their bytes come from. The interface follows fsspec's ``AbstractFileSystem``
(``ls(detail=True)``, ``info``, ``cat_file(start, end)``, ``open``).

Paths are strings: a URL keeps its ``scheme://`` (``pathlib`` would fold it to ``gs:/``), so the readers take
a path apart with :func:`parent_of`, :func:`name_of` and :meth:`Storage.join`, never with ``pathlib``.

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
import errno
import io
import os
import posixpath
import stat
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple


class StorageError(OSError):
    """A path no storage here can serve, or a remote request that failed (auth, network); the message says what.

    ``strerror`` is the message too, so readers that report ``exc.strerror`` of an ``OSError`` report it whole.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message


class FileInfo(NamedTuple):
    """One entry of a listing (a tuple: a reader builds one per file per poll, so it must be cheap)."""

    path: str
    name: str
    size: int
    mtime: float
    is_dir: bool
    token: str  # equal tokens: unchanged content
    is_link: bool = False  # a symbolic link (readers do not follow linked folders)
    special: bool = False  # neither a regular file nor a folder (a FIFO, socket, device): never opened

    @property
    def is_file(self) -> bool:
        return not self.is_dir


class Storage:
    """What ``formats/`` and ``modeldir/`` may do with files; one implementation per kind of location."""

    # True where one request lists every file below a folder (object stores, see :meth:`walk`): a watcher then
    # lists the whole tree once per poll instead of checking each folder's and each file's token.
    lists_recursively = False

    def join(self, base: str | os.PathLike, *names: str) -> str:
        raise NotImplementedError

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        """The folder's entries (not recursive), in one request; raises ``OSError`` when it cannot be listed."""
        raise NotImplementedError

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        """The entry at ``path``, None when nothing is there."""
        raise NotImplementedError

    def walk(self, path: str | os.PathLike) -> list[FileInfo]:
        """Every file below the folder ``path`` (folders themselves left out), in one request; only where
        :attr:`lists_recursively` is true."""
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
        with _open_regular(path, "rb") as handle:
            if start:
                handle.seek(start)
            return handle.read() if end is None else handle.read(max(0, end - start))

    def open(self, path: str | os.PathLike, mode: str = "rb") -> IO:
        return _open_regular(path, mode)

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


def read_at(handle: IO, start: int, buffer: memoryview) -> int:
    """Read from ``start`` of a file :meth:`Storage.open` opened into ``buffer`` (a reader's reused buffer: no fresh
    pages to fault in for each large read), until it is full or the file ends; the number of bytes read. A reader
    of many tensors keeps its files open: an open per read costs more than the read of a small tensor."""
    handle.seek(start)
    done = 0
    while done < len(buffer):
        got = handle.readinto(buffer[done:])
        if not got:
            break
        done += got
    return done


def _info(path: str, name: str, st: os.stat_result, is_link: bool = False) -> FileInfo:
    token = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    is_dir = stat.S_ISDIR(st.st_mode)
    special = not is_dir and not stat.S_ISREG(st.st_mode)
    return FileInfo(path, name, st.st_size, st.st_mtime, is_dir, token, is_link, special)


NOT_REGULAR = "not a regular file (a FIFO, socket or device): not opened"


def _open_regular(path: str | os.PathLike, mode: str) -> IO:
    """Open a regular file only: opening a FIFO blocks until a writer comes (forever, for a reader of a model_dir)
    and a device such as ``/dev/zero`` never ends. Reads open non-blocking and check the opened file itself (no
    race with a rename); writes check the path first (opening a FIFO to write would block as well)."""
    if "r" in mode and "+" not in mode:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, NOT_REGULAR, os.fspath(path))
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            return open(fd, mode)
        except BaseException:
            os.close(fd)
            raise
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, os.fspath(path))
    return open(path, mode)


class _OneLook(Storage):
    """A storage seen within :func:`one_look`: each folder listed once, entries of listed folders stat-free."""

    def __init__(self, base: Storage, listings: dict[str, list[FileInfo]]) -> None:
        self._base = base
        self._listings = listings

    def join(self, base: str | os.PathLike, *names: str) -> str:
        return self._base.join(base, *names)

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        key = _folder_key(path)
        if key not in self._listings:
            self._listings[key] = self._base.listdir(path)
        return self._listings[key]

    @property
    def lists_recursively(self) -> bool:
        return self._base.lists_recursively

    def walk(self, path: str | os.PathLike) -> list[FileInfo]:
        return self._base.walk(path)

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        folder, name = _folder_key(parent_of(path)), name_of(path)
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


def _folder_key(path: str | os.PathLike) -> str:
    text = os.fspath(path)
    return expand_path(text) if scheme_of(text) else os.path.normpath(text)


LOCAL = LocalStorage()
_looks = threading.local()


@contextlib.contextmanager
def one_look(root: str | os.PathLike | None = None) -> Iterator[None]:
    """Within the block, on this thread, every reader sees one consistent listing per folder.

    A live view's refresh lists the files, scans the checkpoints and explains retention: three readers that would
    each list the same folders (and stat what they found). Inside ``one_look`` each folder is listed once and an
    entry's ``info`` comes from its folder's listing; reads of file contents are not cached. Nested blocks share the
    outer look. Writing or deleting inside a look is refused: a look only reads.

    With ``root`` in a bucket, the look starts with one recursive listing of it, from which every folder's listing
    below is answered: one request, however many folders (``eval/``, ``*_temp/``) the readers then list.
    """
    outer = getattr(_looks, "listings", None)
    _looks.listings = {} if outer is None else outer
    if outer is None and root is not None and scheme_of(root):
        with contextlib.suppress(StorageError):  # no such storage: the readers say so themselves
            _looks.listings.update(_listings_below(remote_storage(scheme_of(root)), expand_path(root)))
    try:
        yield
    finally:
        _looks.listings = outer


def _listings_below(storage: Storage, root: str) -> dict[str, list[FileInfo]]:
    """Folder -> its entries, for ``root`` and every folder below it, from one :meth:`Storage.walk`; nothing when
    the walk fails or finds nothing (the readers then list, and report, as usual). A folder's entry carries no size,
    time or token, as in a listing of a bucket."""
    try:
        files = storage.walk(root)
    except OSError:
        return {}
    listings: dict[str, dict[str, FileInfo]] = {}
    for entry in files:
        if not entry.path.startswith(root + "/"):
            continue
        folder = parent_of(entry.path)
        listings.setdefault(folder, {})[entry.name] = entry
        while folder != root:  # the folders between the file and the root, each in its parent's listing
            parent, name = parent_of(folder), name_of(folder)
            siblings = listings.setdefault(parent, {})
            if name in siblings:
                break
            siblings[name] = FileInfo(folder, name, 0, 0.0, True, "")
            folder = parent
    return {folder: list(entries.values()) for folder, entries in listings.items()}


def scheme_of(path: str | os.PathLike) -> str:
    """``gs`` for ``gs://bucket/x``; "" for a local path (a Windows drive letter is not a scheme)."""
    text = os.fspath(path)
    head, sep, _ = text.partition("://")
    return head.lower() if sep and len(head) > 1 and head.isalnum() else ""


# Paths: local ones as pathlib reads them, URLs as "/"-separated names after "scheme://" ------------------------


def expand_path(path: str | os.PathLike) -> str:
    """The path as the readers name it: local ones as ``pathlib`` writes them (``~`` expanded, no trailing
    ``/``), URLs without a trailing ``/``."""
    text = os.fspath(path)
    if not scheme_of(text):
        return str(Path(text).expanduser())
    head, _, rest = text.partition("://")
    return f"{head}://{rest.rstrip('/') or rest}"


def parent_of(path: str | os.PathLike) -> str:
    """The folder holding ``path`` (``pathlib``'s ``parent`` for a local path; a bucket is its own parent)."""
    text = os.fspath(path)
    if not scheme_of(text):
        return str(Path(text).parent)
    head, _, rest = text.partition("://")
    folder = posixpath.dirname(rest.rstrip("/"))
    return f"{head}://{folder or rest.rstrip('/')}"


def name_of(path: str | os.PathLike) -> str:
    """The last component of ``path`` (``pathlib``'s ``name``; for a URL the object's name after the last ``/``)."""
    text = os.fspath(path)
    if not scheme_of(text):
        return Path(text).name
    return posixpath.basename(text.partition("://")[2].rstrip("/"))


def relative_path(path: str | os.PathLike, start: str | os.PathLike) -> str:
    """``path`` relative to the folder ``start``, with ``os.sep`` for a local path and ``/`` for a URL."""
    text, top = os.fspath(path), os.fspath(start)
    if not scheme_of(text):
        return os.path.relpath(text, top)
    text, top = text.rstrip("/"), top.rstrip("/")
    if text == top:
        return "."
    return text[len(top) + 1 :] if text.startswith(top + "/") else text


# Remote storage -------------------------------------------------------------------------------------------------

# The optional extra that brings each scheme's fsspec implementation (``pip install 'ckptgui[gcs]'``).
EXTRAS = {"gs": "gcs", "gcs": "gcs", "s3": "s3", "s3a": "s3"}


class RemoteStorage(Storage):
    """Objects in a bucket through an fsspec file system: ``gs://`` (gcsfs), ``s3://`` (s3fs), any fsspec URL.

    Facts about object stores the readers rely on:

    * There are no folders: a folder is a common prefix of object names, with no size, time or change token of
      its own (``token`` is ""). A reader that watches a folder lists it again (one request) instead of stat-ing it.
    * An object's change token is its ``generation`` (GCS) or ``ETag`` (S3): it changes with every write, and an
      object is only ever replaced whole (TensorFlow rewrites an event file on GCS at every flush), so
      :meth:`write_atomic` is one upload.
    * fsspec caches listings, which would hide the objects other writers add; the file systems made here have that
      cache off (``use_listings_cache=False``), and :meth:`listdir` drops any cached entry of the folder before
      listing it, so every listing is one request that sees the bucket as it is now.
    * Failures other than a missing object (credentials, network, a refused request) come out as
      :class:`StorageError`, an ``OSError`` naming the URL and what failed, so every reader that survives an
      unreadable file survives them.
    """

    lists_recursively = True

    def __init__(self, protocol: str, filesystem: Any) -> None:
        self.protocol = protocol
        self.fs = filesystem

    def join(self, base: str | os.PathLike, *names: str) -> str:
        return "/".join([os.fspath(base).rstrip("/"), *(name.strip("/") for name in names)])

    def _url(self, name: str) -> str:
        return f"{self.protocol}://{name.rstrip('/')}"

    def _entry(self, found: dict[str, Any]) -> FileInfo:
        path = self._url(self.fs._strip_protocol(found["name"]))
        is_dir = found.get("type") == "directory"
        size = 0 if is_dir else int(found.get("size") or 0)
        mtime = _remote_mtime(found)
        token = "" if is_dir else _remote_token(found, size, mtime)
        return FileInfo(path, name_of(path), size, mtime, is_dir, token)

    def listdir(self, path: str | os.PathLike) -> list[FileInfo]:
        url = os.fspath(path)
        folder = self.fs._strip_protocol(url).rstrip("/")
        with _remote_errors(url):
            self.fs.invalidate_cache(folder)
            found = self.fs.ls(folder, detail=True)
        entries = [self._entry(item) for item in found]
        return [entry for entry in entries if entry.path != self._url(folder)]  # a folder's own placeholder

    def walk(self, path: str | os.PathLike) -> list[FileInfo]:
        """One listing without a delimiter (paged by the store for very large folders)."""
        url = os.fspath(path)
        folder = self.fs._strip_protocol(url).rstrip("/")
        with _remote_errors(url):
            self.fs.invalidate_cache(folder)
            found = self.fs.find(folder, detail=True)
        return [entry for entry in map(self._entry, found.values()) if not entry.is_dir]

    def info(self, path: str | os.PathLike) -> FileInfo | None:
        url = os.fspath(path)
        try:
            with _remote_errors(url):
                return self._entry(self.fs.info(url))
        except FileNotFoundError:
            return None

    def read(self, path: str | os.PathLike, start: int = 0, end: int | None = None) -> bytes:
        url = os.fspath(path)
        if end is not None and end <= start:
            return b""
        with _remote_errors(url):
            try:
                return self.fs.cat_file(url, start=start or None, end=end)
            except Exception as exc:
                if _past_the_end(exc):  # a range that starts past the end (HTTP 416): nothing exists there
                    return b""
                raise

    def open(self, path: str | os.PathLike, mode: str = "rb") -> IO:
        """Reading: a file whose every ``read`` is one ranged request, nothing fetched ahead or looked up first
        (fsspec's own files ask for the object's metadata, then read ahead in blocks)."""
        url = os.fspath(path)
        if mode == "rb":
            return io.BufferedReader(_RangedFile(self, url), buffer_size=1)
        if mode == "ab":
            return _Appending(self, url)
        with _remote_errors(url):
            return self.fs.open(url, mode)

    def write_atomic(self, path: str | os.PathLike, data: bytes) -> None:
        """One upload: an object is replaced whole, so a reader sees the old content or the new."""
        url = os.fspath(path)
        with _remote_errors(url):
            self.fs.pipe_file(url, data)

    def delete(self, path: str | os.PathLike) -> None:
        url = os.fspath(path)
        with _remote_errors(url):
            self.fs.rm_file(url)


class _Appending(io.BytesIO):
    """An append to an object: objects cannot grow (gcsfs's ``ab`` silently overwrites), so on ``close`` the
    object is read and uploaded again whole with the bytes written added (one read, one upload per append)."""

    def __init__(self, storage: RemoteStorage, url: str) -> None:
        super().__init__()
        self._storage = storage
        self._url = url

    def close(self) -> None:
        if not self.closed:
            try:
                existing = self._storage.read(self._url)
            except FileNotFoundError:
                existing = b""
            self._storage.write_atomic(self._url, existing + self.getvalue())
        super().close()


class _RangedFile(io.RawIOBase):
    """An object read by byte ranges through :meth:`RemoteStorage.read`, at the position ``seek`` set."""

    def __init__(self, storage: RemoteStorage, url: str) -> None:
        self._storage = storage
        self._url = url
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET and whence != io.SEEK_CUR:
            raise io.UnsupportedOperation("seeking from the end would need the object's size: ask info() for it")
        self._position = offset if whence == io.SEEK_SET else self._position + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._storage.read(self._url, self._position, self._position + len(view))
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        data = self._storage.read(self._url, self._position)
        self._position += len(data)
        return data


def _remote_mtime(found: dict[str, Any]) -> float:
    """Seconds since the epoch from whichever field the implementation fills (gcsfs ``updated``, s3fs
    ``LastModified``); 0 for a folder, which has none."""
    for key in ("mtime", "LastModified", "updated", "last_modified", "created"):
        value = found.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0


def _remote_token(found: dict[str, Any], size: int, mtime: float) -> str:
    """GCS ``generation``, S3 ``ETag``; size and time where the store gives neither."""
    for key in ("generation", "ETag", "etag"):
        value = found.get(key)
        if value:
            return str(value).strip('"')
    return f"{size}:{mtime}"


def _past_the_end(exc: BaseException) -> bool:
    text = str(exc)
    return "416" in text or "InvalidRange" in text or "range is not satisfiable" in text


@contextlib.contextmanager
def _remote_errors(url: str) -> Iterator[None]:
    """A missing object stays ``FileNotFoundError``; every other failure becomes a :class:`StorageError`."""
    try:
        yield
    except (FileNotFoundError, StorageError):
        raise
    except Exception as exc:
        raise StorageError(f"{url}: {_describe_remote_failure(exc)}") from exc


def _describe_remote_failure(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    lowered = f"{type(exc).__name__} {text}".lower()
    if any(word in lowered for word in ("credential", "401", "403", "unauthori", "forbidden", "access denied")):
        return (
            f"access refused ({text}); check the credentials: gcloud auth application-default login for gs://, "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for s3://"
        )
    if isinstance(exc, OSError | TimeoutError) or any(word in lowered for word in ("connect", "timeout", "timed out")):
        return f"the storage service cannot be reached ({text})"
    return text


_remotes: dict[tuple[str, ...], RemoteStorage] = {}
_remotes_lock = threading.Lock()
# Where each extra's libraries look for an emulator or another endpoint; a storage is made per set of them.
_ENDPOINT_VARIABLES = ("STORAGE_EMULATOR_HOST", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def remote_storage(scheme: str) -> RemoteStorage:
    """The storage for URLs of ``scheme``, made once per scheme and endpoint (credentials come from the libraries'
    own sources: application-default credentials, ``STORAGE_EMULATOR_HOST``; AWS variables and profiles,
    ``AWS_ENDPOINT_URL``)."""
    key = (scheme, *(os.environ.get(name, "") for name in _ENDPOINT_VARIABLES))
    with _remotes_lock:
        found = _remotes.get(key)
        if found is None:
            found = _remotes[key] = RemoteStorage(scheme, _filesystem(scheme))
        return found


def _filesystem(scheme: str) -> Any:
    """An fsspec file system for ``scheme`` with its listings cache off; a clear message when it is missing."""
    extra = EXTRAS.get(scheme)
    install = f"pip install 'ckptgui[{extra}]'" if extra else "install the fsspec implementation that serves it"
    options: dict[str, Any] = {"use_listings_cache": False, "skip_instance_cache": True}
    try:
        import fsspec

        if extra == "gcs" and os.environ.get("STORAGE_EMULATOR_HOST"):
            # An emulator checks no credentials, and gcsfs's default class probes the bucket type over gRPC,
            # which an emulator does not serve (60 s timeouts): the plain JSON-API class, anonymous.
            from gcsfs.core import GCSFileSystem

            return GCSFileSystem(token="anon", **options)
        if extra == "s3":
            # botocore waits 60 s for a read and retries it: bounded tighter, a dead endpoint is reported in seconds.
            options["config_kwargs"] = {"connect_timeout": 10, "read_timeout": 30, "retries": {"max_attempts": 3}}
        return fsspec.get_filesystem_class(scheme)(**options)
    except ImportError as exc:
        raise StorageError(f"{scheme}:// paths need a package that is not installed ({exc}): {install}") from None
    except ValueError:
        raise StorageError(f"{scheme}:// is not a storage fsspec knows; use a local path, gs:// or s3://") from None


def storage_for(path: str | os.PathLike) -> Storage:
    """The storage that serves ``path``; raises :class:`StorageError` naming what is missing or supported."""
    scheme = scheme_of(path)
    base = LOCAL if not scheme else remote_storage(scheme)
    listings = getattr(_looks, "listings", None)
    return base if listings is None else _OneLook(base, listings)
