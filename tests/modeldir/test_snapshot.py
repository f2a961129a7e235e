"""One look at a model_dir for the live view, without a window: files, checkpoints, pins and why kept."""

from __future__ import annotations

import shutil
from pathlib import Path

from ckptgui.modeldir.records import LedgerReader, record_written, set_pinned
from ckptgui.modeldir.retention import KEPT_FOREIGN, KEPT_PINNED, checkpoint_files
from ckptgui.modeldir.snapshot import MAX_FILES, FileEntry, kept_text, list_files, take_snapshot
from ckptgui.storage import LocalStorage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_files_one_folder_down_sorted_by_name(tmp_path: Path):
    (tmp_path / "b.txt").write_text("12", encoding="utf-8")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "events").write_text("x", encoding="utf-8")
    (tmp_path / "eval" / "deeper").mkdir()
    (tmp_path / "eval" / "deeper" / "not-listed").write_text("x", encoding="utf-8")
    names = [(entry.name, entry.size, entry.is_dir) for entry in list_files(str(tmp_path))]
    assert names == [("b.txt", 2, False), ("eval/", 0, True), ("eval/deeper/", 0, True), ("eval/events", 1, False)]


def test_a_missing_folder_lists_as_none(tmp_path: Path):
    assert list_files(str(tmp_path / "missing")) is None
    snapshot = take_snapshot(str(tmp_path / "missing"), None, LedgerReader(tmp_path / "missing"))
    assert snapshot is not None and not snapshot.exists and snapshot.files == ()


def test_listing_is_capped(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("ckptgui.modeldir.snapshot.MAX_FILES", 3)
    for index in range(5):
        (tmp_path / f"f{index}").write_text("x", encoding="utf-8")
    assert len(list_files(str(tmp_path))) == 3
    assert MAX_FILES == 5000


def test_snapshot_of_a_model_dir_with_pins_and_ledger(tmp_path: Path):
    model_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "estimator_dnn_iris", model_dir)
    record_written(model_dir, 200, {"accuracy": 0.9}, checkpoint_files(model_dir, "model.ckpt-200"))
    set_pinned(model_dir, 100)
    snapshot = take_snapshot(str(model_dir), None, LedgerReader(model_dir))
    assert snapshot is not None and snapshot.exists and snapshot.error is None
    assert [c.step for c in snapshot.info.checkpoints] == [0, 100, 200]
    assert snapshot.pins == {100}
    assert KEPT_PINNED in snapshot.kept[100] and KEPT_FOREIGN in snapshot.kept[100]
    assert KEPT_FOREIGN not in snapshot.kept[200]
    state_file = (model_dir / "checkpoint").stat()
    assert FileEntry("checkpoint", state_file.st_size, state_file.st_mtime) in snapshot.files
    assert kept_text(snapshot, 100, True).startswith(KEPT_PINNED)
    assert kept_text(snapshot, None, False) == "not in the state file"
    assert kept_text(snapshot, 999, True) == "listed, no rule (next save may sweep it)"


def test_an_unchanged_listing_gives_nothing_to_redraw(tmp_path: Path):
    (tmp_path / "a").write_text("x", encoding="utf-8")
    ledger = LedgerReader(tmp_path)
    first = take_snapshot(str(tmp_path), None, ledger)
    assert first is not None and first.info is not None and first.info.checkpoints == []
    assert take_snapshot(str(tmp_path), first.files, ledger) is None
    (tmp_path / "b").write_text("x", encoding="utf-8")
    assert take_snapshot(str(tmp_path), first.files, ledger) is not None


def test_a_damaged_pins_file_is_reported_and_the_rest_listed(tmp_path: Path):
    model_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "tf2_manager", model_dir)
    (model_dir / "ckptgui_pins.json").write_text("[1, 2]", encoding="utf-8")
    snapshot = take_snapshot(str(model_dir), None, LedgerReader(model_dir))
    assert snapshot is not None and snapshot.info is not None and len(snapshot.info.checkpoints) == 3
    assert snapshot.error is not None and snapshot.error.startswith("cannot tell why checkpoints are kept")
    assert snapshot.pins == set()


def test_one_look_lists_each_folder_once(tmp_path: Path, monkeypatch):
    model_dir = tmp_path / "estimator"
    shutil.copytree(FIXTURES / "estimator_dnn_iris", model_dir)
    listed: list[str] = []
    stats: list[str] = []
    real_listdir, real_info = LocalStorage.listdir, LocalStorage.info
    monkeypatch.setattr(
        LocalStorage, "listdir", lambda self, path: listed.append(str(path)) or real_listdir(self, path)
    )
    monkeypatch.setattr(LocalStorage, "info", lambda self, path: stats.append(str(path)) or real_info(self, path))
    snapshot = take_snapshot(str(model_dir), None, LedgerReader(model_dir))
    assert snapshot is not None and snapshot.info is not None and len(snapshot.info.checkpoints) == 3
    assert sorted(listed) == sorted({str(model_dir), str(model_dir / "eval")})  # each folder once
    assert str(model_dir / "model.ckpt-200.index") not in stats  # known from the listing, not stat'ed again
