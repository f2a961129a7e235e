"""ckptgui.formats.events.reader: one event file read incrementally through the storage seam."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from ckptgui.formats.events.reader import EventFileReader
from ckptgui.formats.wire import masked_crc32c
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


def _lying_header(length: int) -> bytes:
    """A record header with a valid CRC for an impossible ``length``, and no payload after it."""
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc32c(head))


@pytest.mark.reliability
@pytest.mark.parametrize("length", [1 << 63, 1 << 31, 5000], ids=["2^63", "2^31", "past-the-end"])
def test_a_valid_header_with_an_impossible_length_is_skipped_and_counted(tmp_path, tfrecord, length):
    """The header's CRC is right, the length cannot be: the records after it are read, the header counted."""
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(tfrecord(b"one") + _lying_header(length) + tfrecord(b"two") + tfrecord(b"three"))
    reader = EventFileReader(LOCAL, str(path))
    got = Collect()
    assert reader.read(LOCAL.info(path), got) == 1
    assert got.payloads == [b"one", b"two", b"three"]


def test_a_header_at_the_end_whose_record_is_still_being_written_waits(tmp_path, tfrecord):
    """Unlike a lie, a record cut at the end of the file is a writer's next record: left for the next read."""
    path = tmp_path / "events.out.tfevents.1"
    record = tfrecord(b"x" * 5000)
    path.write_bytes(tfrecord(b"one") + record[:100])
    reader = EventFileReader(LOCAL, str(path))
    got = Collect()
    assert reader.read(LOCAL.info(path), got) == 0
    with open(path, "ab") as fh:
        fh.write(record[100:])
    assert read(reader, path) == [b"x" * 5000]
    assert got.payloads == [b"one"]
