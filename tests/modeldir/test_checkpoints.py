"""checkpoints.py against real model_dirs: ours (Trainer), TF 2.15 Estimator, a TF2 CheckpointManager script, Keras.

Damage is always done to copies in tmp_path; committed fixtures are only read.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ckptgui.engine import tensors
from ckptgui.engine.tensors import diff, read_tensor, verify
from ckptgui.engine.training import Trainer
from ckptgui.formats.bundle import OBJECT_GRAPH_KEY
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.layout import step_of
from ckptgui.modeldir.scan import CheckpointError, CheckpointInfo, locate, scan
from ckptgui.modeldir.variables import (
    SLOT_MARK,
    VALUE_SUFFIX,
    InferredNetwork,
    flat_variables,
    global_step,
    infer_network,
    list_variables,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
ESTIMATOR = FIXTURES / "estimator_dnn_iris"
ESTIMATOR_20 = FIXTURES / "estimator_dnn_iris_20x20"
MANAGER = FIXTURES / "tf2_manager"
KERAS = FIXTURES / "keras_callbacks"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model_dir written by our engine: Iris, [10, 10], checkpoints at 0, 100, 200."""
    model_dir = tmp_path_factory.mktemp("ours") / "model"
    spec = RunSpec(
        network=NetworkConfig(steps=200),
        schedule=ScheduleConfig(save_checkpoints_steps=100),
        model_dir=str(model_dir),
        seed=1,
    )
    Trainer(spec).run()
    return model_dir


@pytest.fixture
def ours_copy(ours: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(ours, copy)
    return copy


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def by_step(infos: list[CheckpointInfo]) -> dict[int | None, CheckpointInfo]:
    return {c.step: c for c in infos}


# Listing -------------------------------------------------------------------------------------------------


def test_scan_our_model_dir(ours: Path) -> None:
    info = scan(ours)
    assert info.format == "tf2-object"
    assert [c.step for c in info.checkpoints] == [0, 100, 200]
    assert {c.status for c in info.checkpoints} == {"ok"}
    assert all(c.listed and c.reason == "" for c in info.checkpoints)
    assert (info.latest_step, info.restore_step) == (200, 200)
    assert info.event_runs == [".", "eval"]
    assert info.problems == []
    latest = info.checkpoints[-1]
    assert latest.prefix == str(ours / "model.ckpt-200")
    assert latest.total_bytes == sum((ours / name).stat().st_size for name in latest.files)
    assert "model.ckpt-200.index" in latest.files


def test_our_variables_read_as_the_network(ours: Path) -> None:
    variables = list_variables(locate(ours / "model.ckpt-200"))
    names = [v.name for v in variables]
    network = NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3)
    assert set(names) == {*network, "global_step", "optimizer/iterations", "optimizer/learning_rate"}
    assert (
        names.index("dnn/hiddenlayer_0/bias") < names.index("dnn/hiddenlayer_1/bias") < names.index("dnn/logits/bias")
    )
    for v in variables:
        assert v.key == f"{v.name}{VALUE_SUFFIX}"
        if v.name in network:
            assert v.shape == network[v.name]
            assert (v.dtype, v.size, v.nbytes) == ("float32", int(np.prod(v.shape)), 4 * int(np.prod(v.shape)))
            assert list(v.slots) == ["accumulator"]
            assert v.slots["accumulator"].shape == v.shape
            assert SLOT_MARK in v.slots["accumulator"].key
        else:
            assert v.slots == {}
    assert infer_network(variables) == InferredNetwork([10, 10], 4, 3, False, ["accumulator"])
    assert infer_network(variables).optimizer == "Adagrad"


def test_global_step_is_read_without_tensorflow_and_matches_it(ours: Path) -> None:
    for step in (0, 100, 200):
        prefix = ours / f"model.ckpt-{step}"
        assert global_step(locate(prefix)) == step
        assert int(tf.train.load_checkpoint(str(prefix)).get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE")) == step
    assert global_step(locate(ESTIMATOR / "model.ckpt-100")) == 100
    steps = json.loads((MANAGER / "expected.json").read_text())["step_value_by_checkpoint"]
    for name, value in steps.items():
        assert global_step(locate(MANAGER / name)) == value
    keras = json.loads((KERAS / "expected.json").read_text())
    assert global_step(locate(KERAS / "tf_checkpoint" / "ckpt-1")) == keras["epochs"] * keras["steps_per_epoch"]


def test_listing_does_not_import_tensorflow(ours: Path) -> None:
    code = (
        "import sys; from ckptgui.modeldir import scan as s, variables as c; "
        f"p = {str(ours)!r}; info = s.scan(p); v = c.list_variables(s.locate(p)); "
        f"n = c.global_step(s.locate(p)); s.scan({str(KERAS)!r}); "
        f"c.list_variables(s.locate({str(KERAS / 'tf_checkpoint')!r})); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; print(len(v), n)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(list_variables(locate(ours)))), "200"]


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


def test_estimator_checkpoint_shows_slots_under_their_variable() -> None:
    info = scan(ESTIMATOR)
    assert info.format == "tf1-name"
    assert [c.step for c in info.checkpoints] == [0, 100, 200]
    assert all(c.status == "ok" and c.listed for c in info.checkpoints)
    assert any(f.endswith(".meta") for f in info.checkpoints[0].files)
    assert (info.latest_step, info.restore_step, info.event_runs) == (200, 200, [".", "eval"])
    variables = {v.name: v for v in list_variables(locate(ESTIMATOR / "model.ckpt-200"))}
    kernel = variables["dnn/hiddenlayer_0/kernel"]
    assert kernel.key == "dnn/hiddenlayer_0/kernel"
    assert kernel.slots["accumulator"].key == "training/Adagrad/dnn/hiddenlayer_0/kernel/accumulator"
    assert not any(name.endswith("/accumulator") for name in variables)
    stored = json.loads((ESTIMATOR / "expected.json").read_text())["variables_latest"]
    assert {v["name"] for v in stored} == {v.key for v in flat_variables(list(variables.values())).values()}
    assert infer_network(list(variables.values())).hidden_units == [10, 10]
    wide = infer_network(list_variables(locate(ESTIMATOR_20)))
    assert (wide.hidden_units, wide.n_features, wide.n_classes) == ([20, 20], 4, 3)


def test_manager_model_dir_numbers_by_save_counter() -> None:
    expected = json.loads((MANAGER / "expected.json").read_text())
    info = scan(MANAGER)
    assert [Path(c.prefix).name for c in info.checkpoints] == expected["kept_checkpoints"]
    assert info.latest_step == 5
    assert infer_network(list_variables(locate(MANAGER))) is None
    variables = {v.name: v for v in list_variables(locate(MANAGER))}
    assert variables["model/w1"].shape == [4, 16]
    assert set(variables["model/w1"].slots) == {"momentum", "velocity"}


def test_keras3_checkpoint_keys_get_layer_names_from_the_object_graph() -> None:
    prefix = KERAS / "tf_checkpoint" / "ckpt-1"
    variables = {v.name: v for v in list_variables(locate(prefix))}
    kernel = variables["sequential/dense/kernel"]
    assert kernel.key.startswith("optimizer/_trainable_variables/")
    assert set(kernel.slots) == {"momentum", "velocity"}
    assert not any(name.startswith("optimizer/_") for name in variables)
    # The same weights as the last epoch's weights file, found by readable name on both sides.
    last = KERAS / "weights.03.weights.h5"
    for layer in ("dense", "dense_1", "dense_2"):
        for part in ("kernel", "bias"):
            np.testing.assert_array_equal(
                read_tensor(locate(prefix), f"sequential/{layer}/{part}"),
                read_tensor(locate(last), f"{layer}/{part}"),
            )


def test_keras_weights_files_are_one_checkpoint_each() -> None:
    expected = json.loads((KERAS / "expected.json").read_text())
    info = scan(KERAS)
    assert info.format == "keras-h5"
    assert [Path(c.prefix).name for c in info.checkpoints] == expected["weights_files"]
    assert [c.step for c in info.checkpoints] == [1, 2, 3]
    assert {c.status for c in info.checkpoints} == {"ok"}
    assert info.restore_step == 3
    assert info.event_runs == ["logs/train", "logs/validation"]
    assert any("tf_checkpoint" in p for p in info.problems)
    names = {v.name: v.shape for v in list_variables(locate(KERAS / "weights.01.weights.h5"))}
    assert (names["dense/kernel"], names["dense/bias"], names["dense_2/kernel"]) == ([4, 10], [10], [10, 3])


def test_step_of_names() -> None:
    assert step_of("/x/model.ckpt-200") == 200
    assert step_of("ckpt-5") == 5
    assert step_of("model.ckpt") is None
    assert step_of("weights.05-0.32.weights.h5") == 5
    assert step_of("best.weights.h5") is None


# Paths ---------------------------------------------------------------------------------------------------


def test_every_way_of_naming_a_checkpoint(ours: Path) -> None:
    prefix = str(ours / "model.ckpt-100")
    data_file = str(next(ours.glob("model.ckpt-100.data-*")))
    for path in (prefix, f"{prefix}.index", data_file, f"{ours}@100"):
        info = scan(path)
        assert [c.prefix for c in info.checkpoints] == [prefix], path
        assert locate(path).prefix == prefix
    assert locate(ours).step == 200
    assert locate(ours, step=0).step == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{dir}/nothing-here", "no such file or directory"),
        ("{dir}/graph.pbtxt", "not a checkpoint; expected a model_dir, a checkpoint prefix"),
        ("{dir}@7", "no checkpoint for step 7; the steps here are: 0, 100, 200"),
        ("{dir}@latest", "'latest' is not a step number"),
        ("{dir}/model.ckpt-100@200", "is the checkpoint for step 100; to pick step 200, pass its model_dir"),
    ],
)
def test_bad_paths_say_what_is_wrong(ours: Path, path: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(")):
        locate(path.format(dir=ours))


def test_a_prefix_asked_for_another_step_is_refused(ours: Path) -> None:
    with pytest.raises(CheckpointError, match="is the checkpoint for step 100; to pick step 200, pass its model_dir"):
        locate(ours / "model.ckpt-100", step=200)


def test_unknown_variable_names_the_close_ones(ours: Path) -> None:
    with pytest.raises(CheckpointError, match="no variable 'dnn/kernel'; similar: dnn/hiddenlayer_0/kernel"):
        read_tensor(locate(ours), "dnn/kernel")


# Damage matrix --------------------------------------------------------------------------------------------


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


def _write_state(folder: Path, names: list[str]) -> None:
    lines = [f'model_checkpoint_path: "{names[-1]}"', *(f'all_model_checkpoint_paths: "{n}"' for n in names)]
    (folder / "checkpoint").write_text("\n".join(lines) + "\n")


def _temp_folder(folder: Path, name: str) -> None:
    temp = folder / name
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 100)


def _shard(folder: Path) -> Path:
    """The last data shard of step 100."""
    return sorted(folder.glob("model.ckpt-100.data-*"))[-1]


DAMAGE = {
    # name: (damage, step, status after scan, reason after scan, status after verify, reason after verify)
    "empty index": (
        lambda d: (d / "model.ckpt-100.index").write_bytes(b""),
        100,
        "corrupt",
        r"^the \.index file is empty \(0 bytes\)",
        "corrupt",
        "empty",
    ),
    "half index": (
        lambda d: _truncate(d / "model.ckpt-100.index"),
        100,
        "corrupt",
        "bad magic number",
        "corrupt",
        "bad magic number",
    ),
    "truncated data": (
        lambda d: _truncate(_shard(d)),
        100,
        "corrupt",
        r"^model\.ckpt-100\.data-\d+-of-\d+ is truncated: \d+ bytes, the index needs \d+$",
        "corrupt",
        "is truncated",
    ),
    "bit-flipped data": (
        lambda d: _flip_byte(_shard(d)),
        100,
        "ok",
        "^$",
        "corrupt",
        ": checksum does not match: the .data file is damaged",
    ),
    "missing shard": (
        lambda d: _shard(d).unlink(),
        100,
        "incomplete",
        r"^data shard model\.ckpt-100\.data-\d+-of-\d+ is missing$",
        "incomplete",
        "missing",
    ),
    "missing index": (
        lambda d: (d / "model.ckpt-100.index").unlink(),
        100,
        "incomplete",
        r"^no \.index file",
        "incomplete",
        "no .index file",
    ),
    "files gone, still listed": (
        lambda d: [p.unlink() for p in d.glob("model.ckpt-100.*")],
        100,
        "missing",
        "^listed in the `checkpoint` state file, but its files are gone",
        "missing",
        "gone",
    ),
    "not listed": (
        lambda d: _write_state(d, ["model.ckpt-0", "model.ckpt-200"]),
        100,
        "unlisted",
        "not in the `checkpoint` state file",
        "unlisted",
        "not in the",
    ),
    "leftover temp folder": (
        lambda d: _temp_folder(d, "model.ckpt-300_temp"),
        300,
        "incomplete",
        "^only the temporary folder model.ckpt-300_temp: a save in progress, or an interrupted one",
        "incomplete",
        "a save in progress, or an interrupted one",
    ),
    "half index while being written": (
        lambda d: (_truncate(d / "model.ckpt-100.index"), _temp_folder(d, "model.ckpt-100_temp")),
        100,
        "incomplete",
        r"^being written, or its save was interrupted \(model\.ckpt-100_temp is still there\)",
        "incomplete",
        "being written",
    ),
}


@pytest.mark.reliability
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_matrix(ours_copy: Path, damage: str) -> None:
    how, step, scan_status, scan_reason, verify_status, verify_reason = DAMAGE[damage]
    how(ours_copy)
    before = snapshot(ours_copy)
    scanned = by_step(scan(ours_copy).checkpoints)[step]
    assert scanned.status == scan_status, scanned
    assert re.search(scan_reason, scanned.reason), scanned.reason
    verified = by_step(verify(ours_copy))
    assert verified[step].status == verify_status, verified[step]
    assert verify_reason in verified[step].reason
    for other in (0, 200):
        assert verified[other].status == "ok", verified[other]
    assert snapshot(ours_copy) == before, "reading changed the directory"


def test_truncation_is_measured_against_the_index(ours_copy: Path) -> None:
    shard = _shard(ours_copy)
    full = shard.stat().st_size
    _truncate(shard, 0.25)
    (checkpoint,) = scan(ours_copy / "model.ckpt-100").checkpoints
    assert checkpoint.reason == f"{shard.name} is truncated: {full // 4} bytes, the index needs {full}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "no model_checkpoint_path"), ("model_checkpoint_path: model.ckpt-200\x00garbage\n", "line 1: cannot parse")],
    ids=["empty", "garbled"],
)
def test_damaged_state_file_keeps_the_checkpoints_usable(ours_copy: Path, content: str, problem: str) -> None:
    (ours_copy / "checkpoint").write_text(content)
    info = scan(ours_copy)
    assert [(c.step, c.status, c.listed) for c in info.checkpoints] == [
        (0, "ok", False),
        (100, "ok", False),
        (200, "ok", False),
    ]
    assert info.latest_step is None
    assert info.restore_step == 200
    assert len(info.problems) == 1
    assert "the `checkpoint` state file is damaged" in info.problems[0] and problem in info.problems[0]


def test_a_corrupt_latest_falls_back_to_the_newest_healthy_one(ours_copy: Path) -> None:
    (ours_copy / "model.ckpt-200.index").write_bytes(b"")
    info = scan(ours_copy)
    assert (info.latest_step, info.restore_step) == (200, 100)
    assert any("the latest checkpoint model.ckpt-200 is corrupt" in p and "model.ckpt-100" in p for p in info.problems)
    assert locate(ours_copy).step == 100
    with pytest.raises(CheckpointError, match=r"corrupt: the \.index file is empty"):
        list_variables(locate(ours_copy / "model.ckpt-200"))


def test_temp_folder_beside_a_finished_checkpoint_is_reported_not_fatal(ours_copy: Path) -> None:
    _temp_folder(ours_copy, "model.ckpt-200_temp")
    info = scan(ours_copy)
    assert by_step(info.checkpoints)[200].status == "ok"
    assert "model.ckpt-200_temp is left over from an interrupted save of model.ckpt-200" in " ".join(info.problems)


def test_truncated_keras_weights_file_is_corrupt(tmp_path: Path) -> None:
    shutil.copy(KERAS / "weights.02.weights.h5", tmp_path / "weights.02.weights.h5")
    _truncate(tmp_path / "weights.02.weights.h5", 0.5)
    (checkpoint,) = scan(tmp_path).checkpoints
    assert (checkpoint.status, checkpoint.format) == ("corrupt", "keras-h5")
    assert "truncated" in checkpoint.reason
    with pytest.raises(CheckpointError, match="corrupt"):
        list_variables(locate(tmp_path / "weights.02.weights.h5"))


# Verify against a sweeping writer ----------------------------------------------------------------------


def test_checkpoint_swept_during_verify_is_missing_not_an_error(ours_copy: Path) -> None:
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


# Diff ---------------------------------------------------------------------------------------------------


def test_diff_matches_numpy_on_every_variable(ours: Path) -> None:
    report = diff(f"{ours}@100", f"{ours}@200")
    assert report.a.endswith("model.ckpt-100") and report.b.endswith("model.ckpt-200")
    rows = {row.name: row for row in report.variables}
    assert set(rows) == {v.name for v in list_variables(locate(ours))}
    for name in NetworkConfig(hidden_units=[10, 10]).variable_shapes(4, 3):
        a = read_tensor(locate(ours / "model.ckpt-100"), name).astype(np.float64)
        b = read_tensor(locate(ours / "model.ckpt-200"), name).astype(np.float64)
        row = rows[name]
        assert row.shape_a == row.shape_b == list(a.shape)
        assert row.delta_l2 == pytest.approx(np.linalg.norm(b - a), rel=1e-9)
        assert row.max_abs_delta == pytest.approx(np.abs(b - a).max(), rel=1e-9)
        assert row.norm_a == pytest.approx(np.linalg.norm(a), rel=1e-9)
        assert row.relative_change == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=1e-9)
        assert row.cosine == pytest.approx(a.ravel() @ b.ravel() / np.linalg.norm(a) / np.linalg.norm(b), rel=1e-9)
    assert rows["global_step"].delta_l2 == 100
    assert report.layers[0].relative_change == max(layer.relative_change or 0 for layer in report.layers)
    assert f"moved most: {report.layers[0].name}" in report.summary
    assert report.bytes_read > 0


def test_diff_streams_in_chunks_with_the_same_result(ours: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = {r.name: r for r in diff(ours / "model.ckpt-0", ours / "model.ckpt-200").variables}
    monkeypatch.setattr(tensors, "DIFF_CHUNK", 7)
    chunked = {r.name: r for r in diff(ours / "model.ckpt-0", ours / "model.ckpt-200").variables}
    for name, row in whole.items():
        for field in ("delta_l2", "max_abs_delta", "norm_a", "norm_b", "cosine"):
            expected = getattr(row, field)
            assert getattr(chunked[name], field) == (expected and pytest.approx(expected, rel=1e-12)), (name, field)


def test_diff_of_a_checkpoint_with_itself_is_zero(ours: Path) -> None:
    report = diff(ours, ours)
    assert all(row.delta_l2 == 0 and row.max_abs_delta == 0 for row in report.variables)
    assert report.summary.endswith("all compared values are identical")


def test_diff_of_different_networks_names_the_shape_changes() -> None:
    report = diff(ESTIMATOR, ESTIMATOR_20, include_slots=True)
    rows = {row.name: row for row in report.variables}
    kernel = rows["dnn/hiddenlayer_0/kernel"]
    assert (kernel.shape_a, kernel.shape_b, kernel.delta_l2) == ([4, 10], [4, 20], None)
    assert kernel.note == "shapes differ: [4, 10] vs [4, 20]"
    assert rows["dnn/hiddenlayer_0/kernel/accumulator"].shape_b == [4, 20]
    assert rows["dnn/logits/bias"].delta_l2 is not None
    assert "with different shapes" in report.summary


def test_diff_across_formats_matches_by_readable_name() -> None:
    report = diff(KERAS / "weights.02.weights.h5", KERAS / "weights.03.weights.h5")
    rows = {row.name: row for row in report.variables}
    assert rows["dense/kernel"].delta_l2 > 0
    assert rows["dense/kernel"].shape_a == [4, 10]
