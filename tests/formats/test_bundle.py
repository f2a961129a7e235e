"""bundle.py: the .index SSTable parsed from bytes and the check of each stored tensor agree with TensorFlow; damage is
named, never a crash."""

from __future__ import annotations

from pathlib import Path

import google_crc32c
import pytest
import tensorflow as tf
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, KERAS, MANAGER

from ckptgui.formats.bundle import OBJECT_GRAPH_KEY, Entry, Index, _sliced_variable, check_entry, parse_index
from ckptgui.formats.wire import Damage, mask
from ckptgui.modeldir.scan import locate
from ckptgui.modeldir.variables import flat_variables, list_variables


def index_agrees_with_tensorflow(prefix: Path) -> None:
    reader = tf.train.load_checkpoint(str(prefix))
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    flat = flat_variables(list_variables(locate(prefix)))
    ours_view = {v.key: (v.shape, v.dtype) for v in flat.values()}
    theirs = {k: (shapes[k], dtypes[k].name) for k in shapes if k != OBJECT_GRAPH_KEY}
    assert ours_view == theirs


@pytest.mark.parametrize(
    "prefix",
    [
        ESTIMATOR / "model.ckpt-200",
        ESTIMATOR_20 / "model.ckpt-100",
        MANAGER / "ckpt-5",
        KERAS / "tf_checkpoint" / "ckpt-1",
    ],
    ids=["estimator", "estimator-20x20", "tf2-manager", "keras3-checkpoint"],
)
def test_index_parser_agrees_with_tensorflow_on_fixtures(prefix: Path) -> None:
    index_agrees_with_tensorflow(prefix)


def test_index_parser_agrees_with_tensorflow_on_many_dtypes_and_blocks(tmp_path: Path) -> None:
    """600 variables span many SSTable blocks and restart points; every dtype TF saves is decoded."""
    module = tf.Module()
    values = {
        "f16": tf.ones([3, 2], tf.float16),
        "bf16": tf.ones([5], tf.bfloat16),
        "f64": tf.ones([2, 2, 2], tf.float64),
        "i8": tf.ones([7], tf.int8),
        "u8": tf.ones([1, 1], tf.uint8),
        "i16": tf.ones([2], tf.int16),
        "u16": tf.ones([2], tf.uint16),
        "i32": tf.ones([], tf.int32),
        "u32": tf.ones([2], tf.uint32),
        "u64": tf.ones([2], tf.uint64),
        "flag": tf.constant([True, False]),
        "c64": tf.ones([2], tf.complex64),
        "c128": tf.ones([2], tf.complex128),
        "text": tf.constant(["a", "bc"]),
        "empty": tf.zeros([0, 4]),
    }
    for name, value in values.items():
        setattr(module, name, tf.Variable(value))
    module.layers = [tf.Variable(tf.fill([i % 7 + 1, 3], float(i)), name=f"w{i}") for i in range(600)]
    prefix = tf.train.Checkpoint(model=module).write(str(tmp_path / "many"))
    index_agrees_with_tensorflow(Path(prefix))
    names = {v.name for v in list_variables(locate(prefix))}
    assert {"model/f16", "model/text", "model/layers/599"} <= names


@pytest.mark.parametrize(
    ("table", "message"),
    [(b"", "is empty"), (b"x" * 10, "too short"), (b"\0" * 64, "bad magic number")],
    ids=["empty", "short", "no-magic"],
)
def test_damaged_index_bytes_raise_damage(table: bytes, message: str) -> None:
    with pytest.raises(Damage, match=message):
        parse_index(table)


# Stored tensors: check_entry -----------------------------------------------------------------------------------


def stored_bytes(prefix: Path) -> tuple[Index, bytes]:
    """The index and the single data shard of a checkpoint, as bytes."""
    index = parse_index(Path(f"{prefix}.index").read_bytes())
    return index, Path(f"{prefix}.data-00000-of-00001").read_bytes()


def test_every_entry_tensorflow_writes_passes_its_check(tmp_path: Path) -> None:
    """Numbers of every dtype, a string tensor of several elements, a dataset iterator's variant state, the object
    graph: each entry's bytes pass, as TensorFlow reads them; any flipped bit fails with the checksum message."""
    iterator = iter(tf.data.Dataset.range(10))
    next(iterator)
    module = tf.Module()
    module.words = tf.Variable(["a", "bc", ""])
    module.numbers = [tf.Variable(tf.ones([3, 2], dtype)) for dtype in (tf.float16, tf.bfloat16, tf.int64, tf.bool)]
    module.complex = tf.Variable(tf.ones([2], tf.complex128))
    prefix = tf.train.Checkpoint(model=module, it=iterator).write(str(tmp_path / "kinds"))
    index, data = stored_bytes(Path(prefix))
    assert {entry.dtype for entry in index.stored()} >= {"string", "variant", "bfloat16", "bool", "complex128"}
    for entry in index.stored():
        stored = data[entry.offset : entry.offset + entry.size]
        check_entry(entry, [stored])
        check_entry(entry, [stored[:3], stored[3:]])  # a tensor read in several ranges
        damaged = bytearray(stored)
        damaged[len(damaged) // 2] ^= 0x10
        with pytest.raises(Damage, match="checksum does not match"):
            check_entry(entry, [bytes(damaged)])


def test_slices_of_a_partitioned_variable_are_kept_apart_and_checked(tmp_path: Path) -> None:
    tf.raw_ops.SaveV2(
        prefix=str(tmp_path / "part"),
        tensor_names=["big", "big", "title"],
        shape_and_slices=["4 3 0,2:-", "4 3 2,2:-", ""],
        tensors=[tf.ones([2, 3]), tf.zeros([2, 3]), tf.constant("hello")],
    )
    index, data = stored_bytes(tmp_path / "part")
    assert sorted(index.entries) == ["big", "title"]
    assert index.entries["big"].partitioned and index.entries["big"].shape == (4, 3)
    assert [(entry.key, entry.shape) for entry in index.slices] == [("big", (2, 3)), ("big", (2, 3))]
    assert [entry.key for entry in index.stored()] == ["title", "big", "big"]
    assert index.bytes_needed() == {0: len(data)}
    for entry in index.stored():
        check_entry(entry, [data[entry.offset : entry.offset + entry.size]])


def test_wrong_size_or_missing_bytes_are_damage() -> None:
    entry = Entry("w", "float32", (2, 2), 0, 0, 16, mask(google_crc32c.value(bytes(16))))
    check_entry(entry, [bytes(16)])
    with pytest.raises(Damage, match="truncated"):
        check_entry(entry, [bytes(10)])
    with pytest.raises(Damage, match="the index gives 12 bytes for a float32 tensor of shape"):
        check_entry(entry._replace(size=12), [bytes(12)])


def test_a_slice_key_names_its_variable_with_ordered_code_escapes() -> None:
    table = Path(ESTIMATOR / "model.ckpt-200.index").read_bytes()
    assert parse_index(table).slices == ()
    assert _sliced_variable(b"\x00dnn/a\x00\xffb\xff\x00\x00\x01\x01\x02\x80") == "dnn/a\x00b\\xff"
