"""Helpers shared by the event-file tests."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from ckptgui.formats.wire import masked_crc32c


def _tfrecord(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))


@pytest.fixture(scope="session")
def tfrecord() -> Callable[[bytes], bytes]:
    """Frames a payload as one TFRecord: length, masked CRC of the length, payload, masked CRC of the payload."""
    return _tfrecord
