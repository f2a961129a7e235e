"""bundle.py: the .index SSTable parsed from bytes agrees with TensorFlow; damage is named, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf
from checkpoint_dirs import ESTIMATOR, ESTIMATOR_20, KERAS, MANAGER

from ckptgui.formats.bundle import OBJECT_GRAPH_KEY, parse_index
from ckptgui.formats.wire import Damage
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
