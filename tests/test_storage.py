"""The storage seam: local files through os, change tokens, byte ranges, atomic writes, one look per refresh."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ckptgui.storage import (
    LOCAL,
    StorageError,
    expand_path,
    name_of,
    one_look,
    parent_of,
    relative_path,
    scheme_of,
    storage_for,
)


def test_listing_gives_sizes_times_and_tokens_that_change_with_the_content(tmp_path: Path):
    (tmp_path / "a.bin").write_bytes(b"12345")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    entries = {entry.name: entry for entry in LOCAL.listdir(tmp_path)}
    assert entries["a.bin"].size == 5 and entries["a.bin"].is_file and not entries["a.bin"].is_link
    assert entries["sub"].is_dir and entries["link"].is_dir and entries["link"].is_link
    before = LOCAL.info(tmp_path / "a.bin")
    (tmp_path / "a.bin").write_bytes(b"123456")
    assert LOCAL.info(tmp_path / "a.bin").token != before.token
    assert LOCAL.info(tmp_path / "missing") is None


def test_byte_ranges_and_atomic_writes(tmp_path: Path):
    path = tmp_path / "f"
    LOCAL.write_atomic(path, b"0123456789")
    assert LOCAL.read(path, 2, 5) == b"234" and LOCAL.read(path, 8) == b"89" and LOCAL.read(path, 8, 100) == b"89"
    LOCAL.write_atomic(path, b"new")
    assert LOCAL.read(path) == b"new"
    assert sorted(os.listdir(tmp_path)) == ["f"]  # no temporary file left behind


def test_delete_removes_a_link_never_its_target(tmp_path: Path):
    target = tmp_path / "target.index"
    target.write_bytes(b"x")
    (tmp_path / "link.index").symlink_to(target)
    LOCAL.delete(tmp_path / "link.index")
    assert target.exists() and not (tmp_path / "link.index").exists()


def test_unknown_schemes_are_refused_with_what_is_supported():
    assert scheme_of("gs://bucket/run") == "gs" and scheme_of("C:\\runs\\a") == "" and scheme_of("/x/y") == ""
    with pytest.raises(StorageError, match="nosuch:// is not a storage fsspec knows; use a local path, gs:// or s3://"):
        storage_for("nosuch://bucket/run")


def test_paths_are_taken_apart_without_folding_a_url():
    """pathlib would read gs://bucket/run as gs:/bucket/run; local paths read as pathlib reads them."""
    assert expand_path("gs://bucket/run/") == "gs://bucket/run" and expand_path("runs/a/") == "runs/a"
    assert parent_of("gs://bucket/run/ckpt-1") == "gs://bucket/run" and parent_of("gs://bucket") == "gs://bucket"
    assert parent_of("ckpt-1") == "." and parent_of("/a/b") == "/a"
    assert name_of("s3://bucket/run/ckpt-1") == "ckpt-1" and name_of("/a/b/") == "b"
    assert relative_path("gs://b/run/eval", "gs://b/run") == "eval"
    assert relative_path("gs://b/run", "gs://b/run/") == "."
    assert relative_path("/a/b/c", "/a") == os.path.join("b", "c")


def test_one_look_lists_each_folder_once_and_only_reads(tmp_path: Path):
    (tmp_path / "a").write_bytes(b"1")
    with one_look():
        storage = storage_for(tmp_path)
        first = storage.listdir(tmp_path)
        (tmp_path / "b").write_bytes(b"2")  # appears after the look's listing: not seen in this look
        with one_look():
            assert storage_for(tmp_path).listdir(tmp_path) == first
        assert storage.info(tmp_path / "b") is None and storage.info(tmp_path / "a").size == 1
        assert storage.read(tmp_path / "b") == b"2"  # contents are read, not cached
        with pytest.raises(PermissionError):
            storage.delete(tmp_path / "a")
    assert {entry.name for entry in storage_for(tmp_path).listdir(tmp_path)} == {"a", "b"}
