"""ckptgui.formats.wire: the one copy of each protobuf primitive (varints, field spans, masked CRC32C, DataType)."""

from __future__ import annotations

import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ckptgui.formats.wire import (
    DATA_TYPES,
    DTYPE_FORMATS,
    DTYPE_NAMES,
    Damage,
    field_spans,
    mask,
    masked_crc32c,
    proto_fields,
    signed64,
    varint,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# -- varints --


@given(st.integers(0, 2**64 - 1), st.binary(max_size=4))
def test_varint_round_trips_and_says_where_it_ends(value, after):
    encoded = encode_varint(value)
    assert varint(b"\x00" + encoded + after, 1) == (value, 1 + len(encoded))


def test_varint_longer_than_ten_bytes_is_damage():
    with pytest.raises(Damage, match="longer than 10 bytes"):
        varint(b"\xff" * 11, 0)
    assert varint(b"\xff" * 9 + b"\x01", 0) == (2**64 - 1, 10)


def test_varint_cut_short_is_damage():
    with pytest.raises(Damage, match="past the end"):
        varint(b"\x80\x80", 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, 0), (5, 5), (2**63 - 1, 2**63 - 1), (2**64 - 1, -1), (2**63, -(2**63)), (2**64 + 7, 7)],
)
def test_signed64_is_twos_complement_of_the_low_64_bits(raw, expected):
    assert signed64(raw) == expected


# -- fields --


def message() -> bytes:
    """field 1 varint 150, field 2 bytes "hi", field 3 fixed32 7, field 4 fixed64 9."""
    return (
        b"\x08" + encode_varint(150) + b"\x12\x02hi" + b"\x1d" + struct.pack("<I", 7) + b"\x21" + struct.pack("<Q", 9)
    )


def test_field_spans_give_each_value_position():
    buf = b"xx" + message() + b"yy"
    spans = list(field_spans(buf, 2, len(buf) - 2))
    assert [(number, wire, value) for number, wire, _, _, value in spans] == [
        (1, 0, 150),
        (2, 2, 0),
        (3, 5, 0),
        (4, 1, 0),
    ]
    assert [buf[start:end] for _, _, start, end, _ in spans] == [
        encode_varint(150),
        b"hi",
        struct.pack("<I", 7),
        struct.pack("<Q", 9),
    ]


def test_proto_fields_give_each_value():
    assert list(proto_fields(message())) == [(1, 150), (2, b"hi"), (3, 7), (4, 9)]


@pytest.mark.parametrize(
    ("buf", "reason"),
    [
        (b"\x12\x05hi", "runs past the end"),
        (b"\x1d\x01\x02", "runs past the end"),
        (b"\x0b", "wire type 3"),
        (b"\x00\x01", "number 0"),
    ],
)
def test_malformed_fields_are_damage(buf, reason):
    with pytest.raises(Damage, match=reason):
        list(field_spans(buf))


def test_a_field_may_not_run_past_its_enclosing_message():
    inner = b"\x12\x02hi"
    with pytest.raises(Damage, match="runs past the end"):
        list(field_spans(inner, 0, 3))


# -- masked CRC32C --


def test_masked_crc_matches_the_headers_and_payloads_of_a_real_event_file():
    data = next((FIXTURES / "tf1_events").glob("events.out.tfevents.*")).read_bytes()
    pos = count = 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        payload = data[pos + 12 : pos + 12 + length]
        (payload_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert masked_crc32c(data[pos : pos + 8]) == length_crc
        assert masked_crc32c(payload) == payload_crc
        pos += 16 + length
        count += 1
    assert pos == len(data) and count > 3


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_mask_of_an_array_is_the_mask_of_each_int(crcs):
    arr = np.array(crcs, dtype=np.uint32)
    masked = mask(arr)
    assert masked.dtype == np.uint32
    assert masked.tolist() == [mask(c) for c in crcs]


def test_masked_crc32c_is_the_mask_of_the_crc():
    assert masked_crc32c(b"abc") == mask(google_crc32c.value(b"abc"))
    assert masked_crc32c(b"") == 0xA282EAD8


# -- DataType --


def test_one_datatype_table_gives_names_and_numpy_formats():
    assert DTYPE_NAMES[1] == "float32" and DTYPE_NAMES[14] == "bfloat16" and DTYPE_NAMES[23] == "uint64"
    assert set(DTYPE_NAMES) == set(DATA_TYPES) == set(range(1, 34))  # TensorFlow 2.21: float8, int4, int2, float4 too
    for code, fmt in DTYPE_FORMATS.items():
        assert np.dtype(fmt).name == DTYPE_NAMES[code], code
    assert 14 not in DTYPE_FORMATS and 7 not in DTYPE_FORMATS  # bfloat16 and strings: no plain numpy number
