"""scan.py against real model_dirs: listing, the ways of naming a checkpoint, the damage matrix.

Damage is always done to copies in tmp_path; committed fixtures are only read.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from checkpoint_dirs import KERAS, by_step, copy_of, count_listings, trained_model_dir

from ckptgui.modeldir.scan import CheckpointError, locate, scan
from ckptgui.modeldir.variables import list_variables
from ckptgui.modeldir.verify import verify


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model_dir(tmp_path_factory)


@pytest.fixture
def ours_copy(ours: Path, tmp_path: Path) -> Path:
    return copy_of(ours, tmp_path)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


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


def test_a_scan_lists_the_model_dir_once(ours: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The events search reuses the model_dir's listing; only its subfolders are listed besides."""
    listed = count_listings(monkeypatch)
    info = scan(ours)
    assert info.event_runs == [".", "eval"]
    assert listed.count(str(ours)) == 1


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


def test_the_index_cache_is_bounded_by_the_bytes_of_its_files_not_their_count(tmp_path):
    """Thousands of small indexes stay parsed (verify, the window's looks); a budget's worth of bytes is the bound."""
    from forged_index import entry_proto, forge

    from ckptgui.modeldir.scan import _IndexCache

    paths = []
    for step in range(600):  # more than the old count limit of 512
        prefix = tmp_path / f"model.ckpt-{step}"
        forge(prefix, {"global_step": entry_proto("int64", [], 0, 8, 0)})
        paths.append(f"{prefix}.index")
    size = os.path.getsize(paths[0])
    cache = _IndexCache(budget=size * 600)
    first = [cache.get(path, "t", size) for path in paths]
    assert all(cache.get(path, "t", size) is index for path, index in zip(paths, first, strict=True))  # all kept
    small = _IndexCache(budget=size * 10)
    for path in paths:
        small.get(path, "t", size)
    assert [path for path, _ in small._entries] == paths[-10:]  # the least recently used went first
