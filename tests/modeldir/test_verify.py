"""verify.py: every stored tensor CRC-checked without TensorFlow, against damage, a sweeping writer, big tensors.

TensorFlow writes the checkpoints here and is the reference for what damage is; verify itself never imports it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import tensorflow as tf
from checkpoint_dirs import KERAS, by_step, copy_of, count_listings, trained_model_dir

from ckptgui.formats.bundle import parse_index
from ckptgui.modeldir import verify as verify_module
from ckptgui.modeldir.scan import CheckpointInfo
from ckptgui.modeldir.verify import verify
from ckptgui.storage import LOCAL


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


def write_unusual(folder: Path) -> Path:
    """One checkpoint with a string tensor of several elements, a dataset iterator (a variant tensor) and a
    partitioned variable (two slices): every kind of entry a bundle holds; listed in a state file."""
    folder.mkdir()
    iterator = iter(tf.data.Dataset.range(10))
    next(iterator)
    words = tf.Variable(["a", "bc", ""])
    written = tf.train.Checkpoint(words=words, it=iterator).write(str(folder / "ckpt-1"))
    tf.raw_ops.SaveV2(
        prefix=str(folder / "ckpt-2"),
        tensor_names=["big", "big", "title"],
        shape_and_slices=["4 3 0,2:-", "4 3 2,2:-", ""],
        tensors=[tf.ones([2, 3]), tf.zeros([2, 3]), tf.constant("hello")],
    )
    (folder / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-2"\n'
    )
    return Path(written)


def tensorflow_reads(prefix: Path, key: str) -> bool:
    try:
        tf.train.load_checkpoint(str(prefix)).get_tensor(key)
    except tf.errors.OpError:
        return False
    return True


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


# One scan, the statuses -------------------------------------------------------------------------------------


def test_verify_lists_the_model_dir_once(ours: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One scan serves every checkpoint, so verify grows with the checkpoints, not with their square."""
    ours_copy = copy_of(ours, tmp_path)
    for step in (300, 400, 500):  # more checkpoints than the fixture: a listing per checkpoint would show
        for path in ours_copy.glob("model.ckpt-200.*"):
            (ours_copy / path.name.replace("-200.", f"-{step}.", 1)).write_bytes(path.read_bytes())
    listed = count_listings(monkeypatch)
    results = verify(ours_copy)
    assert [(c.step, c.status) for c in results] == [
        (0, "ok"),
        (100, "ok"),
        (200, "ok"),
        (300, "unlisted"),
        (400, "unlisted"),
        (500, "unlisted"),
    ]
    assert listed.count(str(ours_copy)) == 1


def test_every_kind_of_entry_is_verified_and_every_flipped_byte_found(tmp_path: Path) -> None:
    """Strings, variants and the slices of a partitioned variable: a flip in any stored byte is damage, as it is
    for TensorFlow's reader, and the reason names the variable."""
    model_dir = tmp_path / "unusual"
    write_unusual(model_dir)
    assert [(c.step, c.status) for c in verify(model_dir)] == [(1, "ok"), (2, "ok")]
    for step in (1, 2):
        prefix = model_dir / f"ckpt-{step}"
        index = parse_index((model_dir / f"ckpt-{step}.index").read_bytes())
        shard = model_dir / f"ckpt-{step}.data-00000-of-00001"
        for entry in index.stored():
            for at in range(entry.offset, entry.offset + entry.size):
                flip(shard, at)
                checked = by_step(verify(prefix))[step]
                tensorflow_reads_it = tensorflow_reads(prefix, entry.key)
                flip(shard, at)
                assert (checked.status, tensorflow_reads_it) == ("corrupt", False), (entry.key, at, checked)
    index = parse_index((model_dir / "ckpt-2.index").read_bytes())
    assert [entry.key for entry in index.slices] == ["big", "big"]
    flip(model_dir / "ckpt-2.data-00000-of-00001", index.slices[1].offset)
    assert by_step(verify(model_dir))[2].reason.startswith("big: checksum does not match")


def test_a_tensor_larger_than_a_read_is_read_in_ranges(
    ours: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No read asks for more than READ_RANGE bytes, whatever the tensor sizes; damage is found all the same."""
    ours_copy = copy_of(ours, tmp_path)
    monkeypatch.setattr(verify_module, "READ_RANGE", 64)
    reads: list[int] = []
    read = LOCAL.read

    def counting(path: str, start: int = 0, end: int | None = None) -> bytes:
        if ".data-" in str(path):
            reads.append(end - start)
        return read(path, start, end)

    monkeypatch.setattr(LOCAL, "read", counting)
    assert all(c.status == "ok" for c in verify(ours_copy))
    assert reads and max(reads) <= 64
    shard = sorted(ours_copy.glob("model.ckpt-100.data-*"))[-1]
    flip(shard, shard.stat().st_size * 2 // 3)
    damaged = by_step(verify(ours_copy))[100]
    assert damaged.status == "corrupt" and "checksum does not match" in damaged.reason


def test_a_data_file_cut_short_after_the_scan_is_truncated(ours: Path, tmp_path: Path) -> None:
    ours_copy = copy_of(ours, tmp_path)

    def cut_the_latest(done: int, total: int, checkpoint: CheckpointInfo) -> None:
        if checkpoint.step == 0:
            for shard in ours_copy.glob("model.ckpt-200.data-*"):
                shard.write_bytes(shard.read_bytes()[:10])

    results = by_step(verify(ours_copy, on_progress=cut_the_latest))
    assert results[200].status == "corrupt"
    assert "the .data file is truncated (model.ckpt-200.data-" in results[200].reason


def test_keras_weights_files_are_read(tmp_path: Path) -> None:
    results = verify(KERAS)
    assert [c.status for c in results if c.format == "keras-h5"] and all(c.usable for c in results)


# Verify against a sweeping writer ----------------------------------------------------------------------


def test_checkpoint_swept_during_verify_is_missing_not_an_error(ours: Path, tmp_path: Path) -> None:
    ours_copy = copy_of(ours, tmp_path)
    swept = False

    def sweep_the_latest(done: int, total: int, checkpoint: CheckpointInfo) -> None:
        nonlocal swept
        assert 0 < done <= total
        if not swept and checkpoint.step == 0:
            for path in ours_copy.glob("model.ckpt-200.*"):
                path.unlink()
            swept = True

    results = by_step(verify(ours_copy, on_progress=sweep_the_latest))
    assert swept
    assert (results[0].status, results[100].status) == ("ok", "ok")
    assert results[200].status == "missing"
    assert "deleted while it was being verified" in results[200].reason


@pytest.mark.slow
@pytest.mark.reliability
def test_verify_never_fails_against_a_live_writer(tmp_path: Path) -> None:
    """A CheckpointManager(max_to_keep=1) saving as fast as it can while verify() reads the same folder."""
    model_dir = tmp_path / "live"
    variables = tf.Module()
    variables.w = tf.Variable(tf.zeros([256, 64]))
    checkpoint = tf.train.Checkpoint(model=variables)
    manager = tf.train.CheckpointManager(checkpoint, str(model_dir), max_to_keep=1)  # a folder this test owns
    manager.save()
    stop = threading.Event()
    saves = 0

    def write() -> None:
        nonlocal saves
        while not stop.is_set():
            variables.w.assign_add(tf.ones([256, 64]))
            manager.save()
            saves += 1

    writer = threading.Thread(target=write)
    writer.start()
    seen: dict[str, int] = {}
    try:
        while saves < 300:
            for checkpoint in verify(model_dir):
                seen[checkpoint.status] = seen.get(checkpoint.status, 0) + 1
    finally:
        stop.set()
        writer.join()
    assert set(seen) <= {"ok", "missing", "incomplete", "unlisted"}, seen
    assert seen.get("ok", 0) > 0


def test_a_truncated_slices_only_shard_is_corrupt_in_the_scan_and_read_without_tensorflow(tmp_path: Path) -> None:
    """MaxShardSizePolicy splits a big variable into slices spread over shards that hold nothing else: the scan's
    length check covers them, and the slices put together equal what TensorFlow reads."""
    from ckptgui.modeldir.scan import locate, scan
    from ckptgui.modeldir.tensors import TensorSource

    module = tf.Module()
    module.big = tf.Variable(tf.random.normal((256, 256), seed=1))
    module.small = tf.Variable(tf.ones((4,)))
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=64 * 1024)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    prefix = tf.train.Checkpoint(model=module).write(str(tmp_path / "ckpt-1"), options=options)
    index = parse_index(Path(f"{prefix}.index").read_bytes())
    slice_shards = {piece.shard for piece in index.slices}
    assert len(slice_shards) > 1 and not slice_shards & {e.shard for e in index.entries.values() if not e.partitioned}
    key = "model/big/.ATTRIBUTES/VARIABLE_VALUE"
    with TensorSource(locate(prefix)) as source:
        assert (source.get(key) == tf.train.load_checkpoint(prefix).get_tensor(key)).all()
    shard = Path(index.shard_name(prefix, min(slice_shards)))
    full = shard.stat().st_size
    with open(shard, "r+b") as handle:
        handle.truncate(full // 2)
    (checkpoint,) = scan(prefix).checkpoints
    assert checkpoint.status == "corrupt"
    assert checkpoint.reason == f"{shard.name} is truncated: {full // 2} bytes, the index needs {full}"
    assert by_step(verify(tmp_path))[1].status == "corrupt"
