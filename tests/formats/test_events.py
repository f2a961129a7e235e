"""ckptgui.formats.events against real event files: tf.summary (TF2), TF1 FileWriter, Keras' TensorBoard callback,
Estimator; TensorBoard's own reader is the reference wherever the semantics are the same."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckptgui.formats.events import ScalarReader, ScalarSeries, export_csv, read_scalars

FIXTURES = Path(__file__).parents[1] / "fixtures"


# -- helpers --


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def write_tf2(tf, logdir: Path, steps, tags=("loss", "accuracy"), offset: float = 0.0, name: str | None = None) -> Path:
    """One new event file written by tf.summary.scalar; value = 1/(step+1) + index of the tag + offset."""
    logdir.mkdir(parents=True, exist_ok=True)
    before = set(logdir.glob("*tfevents*"))
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for step in steps:
            for k, tag in enumerate(tags):
                tf.summary.scalar(tag, 1.0 / (step + 1) + k + offset, step=step)
    writer.close()
    (path,) = set(logdir.glob("*tfevents*")) - before
    if name is not None:  # fix the order of files in a run (names normally start with the creation time)
        path = path.rename(logdir / name)
    return path


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float, float]]]:
    """What TensorBoard shows in its Scalars dashboard for one run: tag -> [(step, wall_time, value)]."""
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util

    acc = plugin_event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        metadata = acc.summary_metadata.get(tag)
        if metadata is None or metadata.plugin_data.plugin_name != "scalars":
            continue
        try:
            arrays = [(e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        except TypeError:  # a dtype TensorBoard cannot decode (bfloat16): it shows nothing for the tag
            continue
        if all(a.size == 1 for _, _, a in arrays):  # the Scalars dashboard shows one-element tensors only
            out[tag] = [(step, wall, float(a.item())) for step, wall, a in arrays]
    return out


def ours(series: ScalarSeries) -> list[tuple[int, float, float]]:
    return list(zip(series.steps.tolist(), series.wall_times.tolist(), series.values.tolist(), strict=True))


def assert_same_as_tensorboard(root: Path, expected_runs: set[str]) -> ScalarReader:
    reader = ScalarReader(root)
    reader.poll()
    assert set(reader.runs()) == expected_runs
    for run, tags in reader.runs().items():
        reference = tensorboard_scalars(root / run)
        assert tags == sorted(reference), run
        for tag in tags:
            assert ours(reader.series(run, tag)) == reference[tag], (run, tag)
    assert reader.skipped_records == 0
    return reader


def records(path: Path) -> list[tuple[int, int]]:
    """(offset, payload length) of every record, framed independently of the code under test."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, length))
        pos += 16 + length
    assert pos == len(data)
    return out


def collect(deltas: list[ScalarSeries], store: dict[tuple[str, str], list]) -> None:
    """Apply poll() results the way a plot would: extend, or replace on reset."""
    for d in deltas:
        key = (d.run, d.tag)
        if d.reset:
            store[key] = []
        store.setdefault(key, []).extend(ours(d))


# -- real files from every writer --


def test_tf2_summary_files_read_like_tensorboard(tf, tmp_path):
    # Steps 0 (omitted from the proto), 1..300 (one- and two-byte varints), 2**40 and a negative step.
    write_tf2(tf, tmp_path, [0, *range(1, 301), 2**40], tags=("loss", "accuracy", "learning_rate"))
    write_tf2(tf, tmp_path / "eval", [-3, 100, 200], tags=("accuracy",))
    reader = assert_same_as_tensorboard(tmp_path, {".", "eval"})
    loss = reader.series(".", "loss")
    assert loss.steps[[0, 1, -1]].tolist() == [0, 1, 2**40]
    assert loss.values[1] == np.float32(0.5)
    assert reader.series("eval", "accuracy").steps.tolist() == [-3, 100, 200]
    assert set(reader.file_versions.values()) == {"brain.Event:2"}
    assert reader.other_values == 0


def test_tensor_scalars_of_every_numeric_dtype(tf, tmp_path):
    from tensorboard.plugins.scalar import metadata as scalar_metadata

    meta = scalar_metadata.create_summary_metadata(display_name="", description="").SerializeToString()
    dtypes = {"f64": tf.float64, "f16": tf.float16, "bf16": tf.bfloat16, "i32": tf.int32, "i64": tf.int64}
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(5):
            for tag, dtype in dtypes.items():
                tf.summary.write(tag, tf.cast(step * 1.5 - 2, dtype), step=step, metadata=meta)
            tf.summary.write("as_bool", tf.constant(step % 2 == 0), step=step, metadata=meta)
            tf.summary.write("vector", tf.constant([1.0, 2.0]), step=step, metadata=meta)  # not a scalar
            tf.summary.histogram("weights", tf.range(10.0), step=step)
            tf.summary.text("note", "hello", step=step)
            tf.summary.image("picture", tf.zeros([1, 2, 2, 1]), step=step)
    writer.close()
    reader = ScalarReader(tmp_path)
    reader.poll()
    assert reader.runs()["."] == sorted([*dtypes, "as_bool"])
    for tag, dtype in dtypes.items():
        expected = [float(tf.cast(step * 1.5 - 2, dtype).numpy()) for step in range(5)]
        assert reader.series(".", tag).values.tolist() == expected, tag
        assert reader.series(".", tag).steps.tolist() == list(range(5))
    assert reader.series(".", "as_bool").values.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]
    reference = tensorboard_scalars(tmp_path)  # TensorBoard itself cannot decode bfloat16
    for tag in ("f64", "f16", "i32", "i64", "as_bool"):
        assert ours(reader.series(".", tag)) == reference[tag], tag
    assert reader.other_values == 5 * 4  # vector, histogram, text, image at each step
    assert reader.skipped_records == 0


def test_many_tags_of_one_length(tf, tmp_path):
    tags = [f"metric_{i:03d}" for i in range(120)]  # records of identical length and layout, one template each
    write_tf2(tf, tmp_path, range(1, 6), tags=tags)
    reader = assert_same_as_tensorboard(tmp_path, {"."})
    assert reader.runs()["."] == tags
    assert reader.series(".", "metric_119").values.tolist() == [pytest.approx(1 / (s + 1) + 119) for s in range(1, 6)]


def test_tf1_simple_value_fixture():
    expected = json.loads((FIXTURES / "tf1_events" / "points.json").read_text())
    reader = assert_same_as_tensorboard(FIXTURES / "tf1_events", {"."})
    for tag in expected["tags"]:
        points = [(p["step"], p["value"]) for p in expected["points"] if p["tag"] == tag]
        s = reader.series(".", tag)
        assert list(zip(s.steps.tolist(), s.values.tolist(), strict=True)) == points


def test_keras_tensorboard_callback_fixture():
    root = FIXTURES / "keras_callbacks"
    reader = assert_same_as_tensorboard(root, {"logs/train", "logs/validation"})
    history = json.loads((root / "expected.json").read_text())["history"]
    assert reader.series("logs/train", "epoch_loss").values.tolist() == pytest.approx(history["loss"], rel=1e-6)
    assert reader.series("logs/validation", "epoch_accuracy").values.tolist() == pytest.approx(
        history["val_accuracy"], rel=1e-6
    )
    assert reader.series("logs/validation", "evaluation_loss_vs_iterations").steps.tolist() == [4, 8, 12]


def test_estimator_fixture_with_eval_run():
    root = FIXTURES / "estimator_dnn_iris"
    reader = assert_same_as_tensorboard(root, {".", "eval"})
    expected = json.loads((root / "expected.json").read_text())["event_scalars"]
    for relpath, points in expected.items():
        run = os.path.dirname(relpath) or "."
        for p in points:
            s = reader.series(run, p["tag"])
            assert p["value"] in s.values[s.steps == p["step"]].tolist(), (relpath, p)
    assert reader.other_values > 0  # Estimator's activation histograms


# -- incremental reading --


def test_poll_returns_only_new_points_of_a_file_being_written(tf, tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    reader = ScalarReader(tmp_path)
    assert reader.poll() == []  # an empty directory: nothing yet
    with writer.as_default():
        for step in range(10):
            tf.summary.scalar("loss", step / 10, step=step)
        writer.flush()
        first = reader.poll()
        assert [(d.tag, d.steps.tolist(), d.reset) for d in first] == [("loss", list(range(10)), False)]
        assert reader.poll() == []
        for step in range(10, 15):
            tf.summary.scalar("loss", step / 10, step=step)
        writer.flush()
        second = reader.poll()
    writer.close()
    assert [(d.tag, d.steps.tolist(), d.reset) for d in second] == [("loss", list(range(10, 15)), False)]
    assert reader.series(".", "loss").steps.tolist() == list(range(15))
    assert reader.skipped_records == 0


def test_bytes_arriving_in_pieces_cut_anywhere(tf, tmp_path):
    source = write_tf2(tf, tmp_path / "src", range(40), tags=("loss", "accuracy"))
    data = source.read_bytes()
    live = tmp_path / "live" / source.name
    live.parent.mkdir()
    reader = ScalarReader(live.parent)
    store: dict = {}
    with open(live, "wb") as fh:
        for start in range(0, len(data), 37):  # 37-byte pieces cut headers, payloads and footers
            fh.write(data[start : start + 37])
            fh.flush()
            collect(reader.poll(), store)
    reference = tensorboard_scalars(source.parent)
    assert {tag: points for (_, tag), points in store.items()} == reference
    assert reader.skipped_records == 0


def test_file_cut_mid_record_ends_cleanly_and_resumes(tf, tmp_path):
    source = write_tf2(tf, tmp_path / "src", range(20), tags=("loss",))
    data = source.read_bytes()
    offset, length = records(source)[-1]
    cut = tmp_path / "cut" / source.name
    cut.parent.mkdir()
    cut.write_bytes(data[: offset + 12 + length // 2])
    reader = ScalarReader(cut)
    reader.poll()
    assert reader.series(".", "loss").steps.tolist() == list(range(19))
    assert reader.skipped_records == 0
    with open(cut, "ab") as fh:
        fh.write(data[offset + 12 + length // 2 :])
    (delta,) = reader.poll()
    assert delta.steps.tolist() == [19] and not delta.reset
    assert reader.skipped_records == 0


@pytest.mark.parametrize(
    "where",
    ["length", "length_crc", "wall_time", "step", "tag", "value", "payload_crc"],
)
def test_flipped_byte_skips_one_record(tf, tmp_path, where):
    from tensorboard.compat.proto import event_pb2

    source = write_tf2(tf, tmp_path / "src", range(30), tags=("loss", "accuracy"))
    data = bytearray(source.read_bytes())
    offset, length = records(source)[25]
    payload = bytes(data[offset + 12 : offset + 12 + length])
    event = event_pb2.Event.FromString(payload)
    tag = event.summary.value[0].tag
    positions = {
        "length": offset,
        "length_crc": offset + 9,
        "wall_time": offset + 12 + 3,
        "step": offset + 12 + 10,  # after the wall time field (9 bytes) and the step field's key
        "tag": offset + 12 + payload.index(tag.encode()),
        "value": offset + 12 + payload.index(b"J\x0b\n\t\n\x07scalars") - 2,  # the tensor's last bytes
        "payload_crc": offset + 12 + length + 2,
    }
    data[positions[where]] ^= 0x04
    damaged = tmp_path / "damaged" / source.name
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(data))

    reader = ScalarReader(damaged)
    reader.poll()
    assert reader.skipped_records == 1
    reference = tensorboard_scalars(source.parent)
    reference[tag] = [p for p in reference[tag] if p[0] != event.step]
    assert {t: ours(reader.series(".", t)) for t in reader.runs()["."]} == reference


def test_several_files_per_run_are_merged_by_step(tf, tmp_path):
    write_tf2(tf, tmp_path, range(10), name="events.out.tfevents.1000.host.1.v2")
    write_tf2(tf, tmp_path, range(10, 20), name="events.out.tfevents.2000.host.2.v2")
    write_tf2(tf, tmp_path / "eval", [5, 10], name="events.out.tfevents.1500.host.1.v2")
    reader = assert_same_as_tensorboard(tmp_path, {".", "eval"})
    assert reader.series(".", "loss").steps.tolist() == list(range(20))


def test_restart_that_rewinds_the_step_keeps_the_newer_points(tf, tmp_path):
    write_tf2(tf, tmp_path, range(100), tags=("loss",), name="events.out.tfevents.1000.host.1.v2")
    reader = ScalarReader(tmp_path)
    (first,) = reader.poll()
    assert len(first) == 100
    kept = first.values.copy()
    # The process died after step 99 and restarted from the checkpoint at step 50.
    write_tf2(tf, tmp_path, range(50, 80), tags=("loss",), offset=1000.0, name="events.out.tfevents.2000.host.2.v2")
    (delta,) = reader.poll()
    assert delta.reset  # points were dropped: the plot must replace its data, not extend it
    assert delta.steps.tolist() == list(range(80))
    assert delta.values.tolist() == [*kept[:50].tolist(), *(np.float32(1 / (s + 1) + 1000.0) for s in range(50, 80))]
    assert np.array_equal(first.values, kept)  # arrays handed out earlier are never written again
    assert reader.series(".", "loss").steps.tolist() == list(range(80))


def test_session_log_start_purges_every_tag_like_tensorboard(tf, tmp_path):
    with tf.Graph().as_default():
        writer = tf.compat.v1.summary.FileWriter(str(tmp_path))
        start = tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START)
        writer.add_session_log(start, 1)  # the first start of a run purges nothing
        for step in range(1, 11):
            values = [tf.compat.v1.Summary.Value(tag="loss", simple_value=float(step))]
            values.append(tf.compat.v1.Summary.Value(tag="accuracy", simple_value=step / 10))
            writer.add_summary(tf.compat.v1.Summary(value=values), step)
        writer.add_session_log(start, 6)  # restarted from the checkpoint at step 6
        for step in range(6, 9):
            writer.add_summary(
                tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag="loss", simple_value=-step)]), step
            )
        writer.close()
    reader = assert_same_as_tensorboard(tmp_path, {"."})
    assert reader.series(".", "loss").values.tolist() == [1, 2, 3, 4, 5, -6, -7, -8]
    assert reader.series(".", "accuracy").steps.tolist() == [1, 2, 3, 4, 5]


def test_symlinked_directories_are_not_followed(tmp_path):
    real = tmp_path / "root" / "real"
    shutil.copytree(FIXTURES / "tf1_events", real)
    (tmp_path / "root" / "link").symlink_to(real, target_is_directory=True)
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root", target_is_directory=True)
    reader = ScalarReader(tmp_path / "root")
    reader.poll()
    assert list(reader.runs()) == ["real"] and reader.problems == {}


def test_new_files_and_runs_are_picked_up(tf, tmp_path):
    write_tf2(tf, tmp_path, range(5), tags=("loss",))
    reader = ScalarReader(tmp_path)
    assert [d.run for d in reader.poll()] == ["."]
    write_tf2(tf, tmp_path / "eval", [4], tags=("accuracy",))
    write_tf2(tf, tmp_path / "logs" / "validation", [1, 2], tags=("epoch_loss",))
    new = {(d.run, d.tag): d.steps.tolist() for d in reader.poll()}
    assert new == {("eval", "accuracy"): [4], ("logs/validation", "epoch_loss"): [1, 2]}
    assert reader.runs() == {".": ["loss"], "eval": ["accuracy"], "logs/validation": ["epoch_loss"]}


def test_missing_path_is_waited_for(tf, tmp_path):
    model_dir = tmp_path / "not_yet"
    reader = ScalarReader(model_dir)
    assert reader.poll() == []
    assert str(model_dir) in next(iter(reader.problems.values()))
    write_tf2(tf, model_dir, range(3), tags=("loss",))
    assert [d.steps.tolist() for d in reader.poll()] == [[0, 1, 2]]
    assert reader.problems == {}


def test_replaced_file_is_read_again(tf, tmp_path):
    first = write_tf2(tf, tmp_path / "a", range(10), tags=("loss",))
    second = write_tf2(tf, tmp_path / "b", range(3), tags=("loss",), offset=5.0)
    live = tmp_path / "live" / "events.out.tfevents.1.host"
    live.parent.mkdir()
    shutil.copy(first, live)
    reader = ScalarReader(live.parent)
    reader.poll()
    os.replace(shutil.copy(second, tmp_path / "tmp_copy"), live)  # a new file under the old name
    (delta,) = reader.poll()
    assert delta.reset and delta.steps.tolist() == [0, 1, 2] and delta.values[0] == np.float32(6.0)


# -- API details --


def test_series_arrays_are_read_only_snapshots(tf, tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    reader = ScalarReader(tmp_path)
    with writer.as_default():
        tf.summary.scalar("loss", 1.0, step=1)
        writer.flush()
        reader.poll()
        snapshot = reader.series(".", "loss")
        for step in range(2, 200):
            tf.summary.scalar("loss", float(step), step=step)
        writer.flush()
        reader.poll()
    writer.close()
    assert snapshot.steps.tolist() == [1] and snapshot.values.tolist() == [1.0]
    with pytest.raises(ValueError, match="read-only"):
        snapshot.values[0] = 2.0
    assert len(reader.series(".", "loss")) == 199
    with pytest.raises(KeyError, match=re.escape("no scalar tag 'acc' in run '.'; tags: loss")):
        reader.series(".", "acc")
    with pytest.raises(KeyError, match="no run 'eval'"):
        reader.series("eval", "loss")


def test_polls_from_two_threads_never_lose_or_repeat_a_point(tf, tmp_path):
    source = write_tf2(tf, tmp_path / "src", range(300), tags=("loss", "accuracy"))
    data = source.read_bytes()
    live = tmp_path / "live" / source.name
    live.parent.mkdir()
    live.write_bytes(b"")
    reader = ScalarReader(live.parent)
    got: list[list[ScalarSeries]] = [[], []]
    done = threading.Event()

    def poller(slot: int) -> None:
        while not done.is_set():
            got[slot].extend(reader.poll())

    threads = [threading.Thread(target=poller, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    with open(live, "ab") as fh:
        for start in range(0, len(data), 501):
            fh.write(data[start : start + 501])
            fh.flush()
    done.set()
    for t in threads:
        t.join()
    collected = got[0] + got[1] + reader.poll()
    assert not any(d.reset for d in collected)
    for tag in ("loss", "accuracy"):
        steps = sorted(s for d in collected if d.tag == tag for s in d.steps.tolist())
        assert steps == list(range(300)), tag


def test_export_csv_writes_every_point_exactly(tf, tmp_path):
    write_tf2(tf, tmp_path / "run", range(1500), tags=("loss", "a,tag with comma"))
    series = read_scalars(tmp_path / "run")["."]
    out = tmp_path / "points.csv"
    assert export_csv(series.values(), out) == 3000  # no cap (TensorBoard's export stops at 1,000)
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["run", "tag", "step", "wall_time", "value"]
    assert len(rows) == 3001
    by_tag = {}
    for run, tag, step, wall, value in rows[1:]:
        assert run == "."
        by_tag.setdefault(tag, []).append((int(step), float(wall), float(value)))
    assert by_tag == {tag: ours(s) for tag, s in series.items()}


def test_reader_never_imports_tensorflow():
    code = (
        "import sys\n"
        "from ckptgui.formats.events import read_scalars\n"
        "runs = read_scalars(sys.argv[1])\n"
        "assert len(runs['logs/train']['epoch_loss']) == 3\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorboard', 'keras')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES / "keras_callbacks")], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- damage of any kind never raises --


@pytest.fixture(scope="module")
def sample_file(tf, tmp_path_factory) -> bytes:
    return write_tf2(tf, tmp_path_factory.mktemp("sample"), range(12), tags=("loss", "accuracy")).read_bytes()


def _read_bytes(data: bytes, pieces: int = 1) -> ScalarReader:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.out.tfevents.0.fuzz"
        reader = ScalarReader(path)
        with open(path, "wb") as fh:
            for i in range(pieces):
                fh.write(data[i * len(data) // pieces : (i + 1) * len(data) // pieces])
                fh.flush()
                reader.poll()
        return reader


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=3000), pieces=st.integers(1, 4))
def test_random_bytes_never_raise(data, pieces):
    reader = _read_bytes(data, pieces)
    assert reader.skipped_records >= 0


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, 10_000), garbage=st.binary(max_size=500), flips=st.lists(st.integers(0, 10_000), max_size=3))
def test_damaged_real_file_yields_only_real_points(sample_file, cut, garbage, flips):
    data = bytearray(sample_file[: cut % (len(sample_file) + 1)] + garbage)
    for f in flips:
        if data:
            data[f % len(data)] ^= 0xFF
    reader = _read_bytes(bytes(data), pieces=2)
    clean = _read_bytes(sample_file)
    for run, tags in reader.runs().items():
        for tag in tags:
            real = set(ours(clean.series(run, tag)))
            assert set(ours(reader.series(run, tag))) <= real


@settings(max_examples=150, deadline=None)
@given(payloads=st.lists(st.binary(max_size=200), max_size=8))
def test_well_framed_garbage_payloads_never_raise(tfrecord, payloads):
    reader = _read_bytes(b"".join(tfrecord(p) for p in payloads), pieces=2)
    assert reader.skipped_records <= len(payloads)


def test_runs_share_the_templates_they_learn_but_each_keeps_its_own_tag_kinds(tf, tmp_path):
    from tensorboard.compat.proto import summary_pb2

    write_tf2(tf, tmp_path / "a", range(1, 40), tags=("shared_loss", "shared_acc"))
    write_tf2(tf, tmp_path / "b", range(1, 40), tags=("shared_loss", "shared_acc"))
    first = ScalarReader(tmp_path / "a")
    first.poll()
    second = ScalarReader(tmp_path / "b")
    second.poll()
    # The second run's records are read with the first run's templates: it learns none of its own.
    assert first._runs["."].decoder.learned > 0 and second._runs["."].decoder.learned == 0
    assert_same_as_tensorboard(tmp_path / "b", {"."})

    # The same bytes under another plugin. Only a tag's first value carries metadata (a first file here, read by a
    # poll of its own), the later ones none: their records are alike in both runs, and in each run its tag's first
    # metadata decides what they are (TensorBoard's rule). A template of one run must not read the other's.
    def plugin(name: str) -> bytes:
        data = summary_pb2.SummaryMetadata.PluginData(plugin_name=name)
        return summary_pb2.SummaryMetadata(plugin_data=data).SerializeToString()

    readers = {}
    for folder, name in (("scalar_run", "scalars"), ("custom_run", "custom")):
        readers[folder] = ScalarReader(tmp_path / folder)
        for steps, meta in ((range(1, 2), plugin(name)), (range(2, 30), None)):
            writer = tf.summary.create_file_writer(str(tmp_path / folder), filename_suffix=f".{steps[0]:03d}")
            with writer.as_default():
                for step in steps:
                    tf.summary.write("kind", tf.constant(step * 0.5), step=step, metadata=meta)
            writer.close()
            readers[folder].poll()
    scalar_run, custom_run = readers["scalar_run"], readers["custom_run"]
    assert scalar_run.series(".", "kind").values.tolist() == [step * 0.5 for step in range(1, 30)]
    learned = [tpl for tpl in _templates_of(scalar_run._runs["."].decoder) if not tpl.carried]
    assert [tpl.plugins for tpl in learned] == [(("kind", "scalars"),)]  # the values without metadata
    assert not set(learned) & set(_templates_of(custom_run._runs["."].decoder))  # offered, not taken
    assert custom_run.runs().get(".", []) == [] and custom_run.other_values == 29
    assert "kind" not in tensorboard_scalars(tmp_path / "custom_run")


def _templates_of(decoder) -> list:
    return [tpl for layouts in decoder._layouts.values() for layout in layouts.values() for tpl in layout.templates]
