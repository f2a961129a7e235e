"""Training into a bucket through a staging folder: uploads in an order every reader can trust, ledger-only deletes."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from checkpoint_dirs import ESTIMATOR

from ckptgui.formats.statefile import read_state, write_state
from ckptgui.modeldir.mirror import Mirror
from ckptgui.modeldir.records import record_written
from ckptgui.modeldir.scan import scan
from ckptgui.storage import storage_for


def staged(tmp_path: Path) -> Path:
    staging = tmp_path / "staging"
    shutil.copytree(ESTIMATOR, staging)
    for step in (0, 200):  # ckptgui wrote these; step 100 came from elsewhere
        record_written(staging, step)
    return staging


def test_data_before_index_and_the_state_file_last_while_a_reader_polls(bucket_url: str, tmp_path: Path):
    staging, url = staged(tmp_path), f"{bucket_url}/run"
    seen_listed: list[tuple[str, str]] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                info = scan(url)
            except Exception:  # noqa: BLE001 - nothing uploaded yet: no such model_dir
                continue
            seen_listed.extend((c.status, c.reason) for c in info.checkpoints if c.listed)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        uploaded = Mirror(str(staging), url).push()
    finally:
        done.set()
        reader.join(timeout=60)
    assert uploaded[-1] == "checkpoint"
    for step in (0, 100, 200):
        assert uploaded.index(f"model.ckpt-{step}.data-00000-of-00001") < uploaded.index(f"model.ckpt-{step}.index")
    assert all(status == "ok" for status, _ in seen_listed), seen_listed  # never a listed checkpoint missing
    assert [c.status for c in scan(url).checkpoints] == ["ok", "ok", "ok"]


def test_only_what_changed_is_uploaded_and_only_ledger_checkpoints_are_deleted(bucket_url: str, tmp_path: Path):
    staging, url = staged(tmp_path), f"{bucket_url}/run"
    mirror = Mirror(str(staging), url)
    mirror.push()
    assert mirror.push() == []
    (staging / "model.ckpt-300_temp").mkdir()  # a save in progress: never uploaded
    (staging / "model.ckpt-300_temp" / "part").write_bytes(b"partial")
    for step in (0, 100):  # a retention sweep of both: only step 0 is ours
        for path in staging.glob(f"model.ckpt-{step}.*"):
            path.unlink()
    state = read_state(staging)
    state.all_model_checkpoint_paths = ["model.ckpt-200"]
    write_state(staging, state)
    assert mirror.push() == ["checkpoint"]
    remote = storage_for(url)
    names = {entry.name for entry in remote.listdir(url)}
    assert not any(name.startswith("model.ckpt-0.") for name in names)
    assert {"model.ckpt-100.index", "model.ckpt-100.data-00000-of-00001"} <= names  # not ours: kept
    assert remote.info(f"{url}/model.ckpt-300_temp/part") is None


def test_pull_fills_a_staging_folder_from_the_bucket(bucket_url: str, tmp_path: Path):
    url = f"{bucket_url}/run"
    Mirror(str(staged(tmp_path)), url).push()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    mirror = Mirror(str(fresh), url)
    pulled = mirror.pull()
    assert "checkpoint" in pulled and not any(name.startswith("events.out") for name in pulled)
    assert [c.status for c in scan(fresh).checkpoints] == ["ok", "ok", "ok"]
    assert mirror.push() == []  # what was pulled is not sent back
