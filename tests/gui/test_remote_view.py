"""The window on a model_dir in a bucket (fake-gcs-server, moto): File → Open URL, the live view, its polling."""

from __future__ import annotations

import shutil
from pathlib import Path

from checkpoint_dirs import ESTIMATOR
from emulators import upload
from gui_helpers import WINDOW_TIMEOUT_MS
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QInputDialog

from ckptgui.gui.widgets.directory_view import DirectoryView
from ckptgui.storage import storage_for
from ckptgui.workspace.model import Workspace


def statuses(workspace: Workspace) -> list[str]:
    snapshot = workspace.snapshot
    return [c.status for c in snapshot.info.checkpoints] if snapshot is not None and snapshot.info else []


def test_open_url_shows_the_bucket_and_follows_new_checkpoints(
    qtbot, window, bucket_url: str, tmp_path: Path, monkeypatch
):
    local = tmp_path / "model"
    shutil.copytree(ESTIMATOR, local)
    newest = {path.name: path.read_bytes() for path in sorted(local.glob("model.ckpt-200.*"))}
    for name in newest:
        (local / name).unlink()
    url = f"{bucket_url}/model"
    upload(local, url)
    workspace, view = window.workspace, window.panels.directory
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *args, **kwargs: (url + "/", True)))
    window.window_actions.open_url.trigger()
    assert workspace.model_dir == url and window.settings.recent_dirs()[0] == url
    qtbot.waitUntil(lambda: statuses(workspace) == ["ok", "ok", "missing"], timeout=WINDOW_TIMEOUT_MS)
    assert view.watcher.poll_interval_ms >= 5000  # a bucket is looked at every 5 s at most
    qtbot.waitUntil(lambda: window.panels.plots.point_count(".", "loss") > 0, timeout=WINDOW_TIMEOUT_MS)
    for name in sorted(newest, key=lambda name: name.endswith(".index")):
        storage_for(url).write_atomic(f"{url}/{name}", newest[name])
    view.refresh()  # the next poll, without waiting 5 s for it
    qtbot.waitUntil(lambda: statuses(workspace) == ["ok", "ok", "ok"], timeout=WINDOW_TIMEOUT_MS)
    assert view.item_for_step(200) is not None


def test_idle_looks_at_a_bucket_back_off_and_a_failed_look_says_why(qtbot, bucket_url: str, monkeypatch):
    workspace = Workspace()
    view = DirectoryView(QThreadPool(), workspace)
    qtbot.addWidget(view)
    storage_for(bucket_url).write_atomic(f"{bucket_url}/run/checkpoint", b'model_checkpoint_path: "model.ckpt-1"\n')
    workspace.set_model_dir(f"{bucket_url}/run")
    qtbot.waitUntil(lambda: workspace.snapshot is not None, timeout=WINDOW_TIMEOUT_MS)
    assert view.watcher.poll_interval_ms == 5000
    view.refresh()
    qtbot.waitUntil(lambda: view.watcher.poll_interval_ms == 10000, timeout=WINDOW_TIMEOUT_MS)  # nothing new

    def refused(*args, **kwargs):
        raise PermissionError(13, "Access denied: check the credentials")

    monkeypatch.setattr(type(storage_for(bucket_url)), "listdir", refused)
    monkeypatch.setattr(type(storage_for(bucket_url)), "walk", refused)
    view.refresh()
    qtbot.waitUntil(lambda: "Access denied" in view.problems.text(), timeout=WINDOW_TIMEOUT_MS)
    assert view.watcher.poll_interval_ms == 20000  # a failed look backs off too: no storm of refused requests
