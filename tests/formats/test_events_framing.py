"""ckptgui.formats.events.framing: TFRecord framing of a chunk, without TensorFlow or files."""

from __future__ import annotations

import numpy as np

from ckptgui.formats.events.framing import frame


def chunk(data: bytes) -> bytearray:
    return bytearray(data + bytes(8))  # frame() wants 8 bytes of padding


def offsets(payloads: list[bytes]) -> list[int]:
    out, pos = [], 0
    for p in payloads:
        out.append(pos)
        pos += 16 + len(p)
    return out


def test_many_records_of_a_repeating_pattern_are_framed_exactly(tfrecord):
    payloads = [bytes([i % 251]) * (10 + i % 3) for i in range(2000)]  # long enough for the bulk prediction
    data = b"".join(tfrecord(p) for p in payloads)
    framing = frame(chunk(data), len(data), resync=False)
    assert framing.offs.tolist() == offsets(payloads)
    assert framing.lens.tolist() == [len(p) for p in payloads]
    assert (framing.consumed, framing.resync, framing.skipped, framing.pending) == (len(data), False, 0, -1)


def test_a_record_not_all_in_the_chunk_is_pending(tfrecord):
    data = tfrecord(b"first") + tfrecord(b"second, longer")
    end = len(data) - 3
    framing = frame(chunk(data[:end]), end, resync=False)
    assert framing.offs.tolist() == [0] and framing.consumed == 21
    assert framing.pending == len(b"second, longer")


def test_a_header_cut_short_is_left_for_later(tfrecord):
    data = tfrecord(b"first") + tfrecord(b"second")[:7]
    framing = frame(chunk(data), len(data), resync=False)
    assert framing.offs.tolist() == [0] and framing.consumed == 21 and framing.pending == -1


def test_a_damaged_length_resyncs_at_the_next_valid_header(tfrecord):
    payloads = [b"a" * 20, b"b" * 30, b"c" * 40]
    data = bytearray(b"".join(tfrecord(p) for p in payloads))
    data[0] ^= 0x01  # the first length no longer matches its CRC
    framing = frame(chunk(bytes(data)), len(data), resync=False)
    assert framing.offs.tolist() == offsets(payloads)[1:]
    assert framing.skipped == 1 and not framing.resync


def test_garbage_leaves_the_framer_searching():
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8))
    framing = frame(chunk(garbage), len(garbage), resync=True)
    assert len(framing.offs) == 0 and framing.resync
    assert framing.consumed == len(garbage) - 11  # a header may start in the last 11 bytes
