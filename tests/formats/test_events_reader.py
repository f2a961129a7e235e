"""ckptgui.formats.events.reader: one event file read incrementally through the storage seam."""

from __future__ import annotations

import os
from pathlib import Path

from ckptgui.formats.events.reader import EventFileReader
from ckptgui.storage import LOCAL


class Collect:
    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def __call__(self, buf, offs, lens) -> None:
        self.payloads += [bytes(buf[o + 12 : o + 12 + n]) for o, n in zip(offs.tolist(), lens.tolist(), strict=True)]


def read(reader: EventFileReader, path: Path) -> list[bytes]:
    got = Collect()
    info = LOCAL.info(path)
    assert info is not None
    reader.read(info, got)
    return got.payloads


def test_only_new_records_are_read_and_a_partial_one_waits(tmp_path, tfrecord):
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(tfrecord(b"one") + tfrecord(b"two")[:9])
    reader = EventFileReader(LOCAL, str(path))
    assert read(reader, path) == [b"one"]
    assert read(reader, path) == []  # same token: nothing read
    with open(path, "ab") as fh:
        fh.write(tfrecord(b"two")[9:] + tfrecord(b"three"))
    assert read(reader, path) == [b"two", b"three"]


def test_a_truncated_file_is_read_from_its_start(tmp_path, tfrecord):
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(tfrecord(b"one") + tfrecord(b"two"))
    reader = EventFileReader(LOCAL, str(path))
    assert read(reader, path) == [b"one", b"two"]
    path.write_bytes(tfrecord(b"new"))
    assert read(reader, path) == [b"new"]


def test_a_replaced_longer_file_is_read_from_its_start(tmp_path, tfrecord):
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(tfrecord(b"one"))
    reader = EventFileReader(LOCAL, str(path))
    assert read(reader, path) == [b"one"]
    other = tmp_path / "other"
    other.write_bytes(tfrecord(b"uno") + tfrecord(b"dos"))
    os.replace(other, path)
    assert read(reader, path) == [b"uno", b"dos"]


def test_damaged_headers_are_counted(tmp_path, tfrecord):
    path = tmp_path / "events.out.tfevents.1"
    data = bytearray(tfrecord(b"one") + tfrecord(b"two") + tfrecord(b"three"))
    data[19] ^= 0xFF  # the length of the second record
    path.write_bytes(bytes(data))
    reader = EventFileReader(LOCAL, str(path))
    got = Collect()
    assert reader.read(LOCAL.info(path), got) == 1
    assert got.payloads == [b"one", b"three"]
