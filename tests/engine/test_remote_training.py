"""``ckptgui train --model-dir gs://… / s3://…``: into ``gs://`` through TensorFlow's own GCS file system, into
``s3://`` through a staging folder mirrored to the bucket; resumable from either.

TensorFlow reaches fake-gcs-server through :class:`emulators.GcsProxy` (its GCS endpoint is hard-coded); ckptgui's
own reads and writes go to the same emulator through gcsfs (``STORAGE_EMULATOR_HOST``).
"""

from __future__ import annotations

import json
import time

import emulators
import pytest

from ckptgui.cli import main
from ckptgui.engine.bucket import GCS_BOUNDS
from ckptgui.engine.training import CheckpointDeleted, CheckpointSaved, Evaluated, Failed, Finished, Trainer
from ckptgui.formats.events.runs import ScalarReader
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.records import read_written
from ckptgui.storage import StorageError, storage_for
from ckptgui.workspace.model import Workspace


def _train(url: str, steps: int, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["train", "--model-dir", url, "--steps", str(steps), "--save-checkpoints-steps", "100"]
    argv += ["--keep-checkpoint-max", "2", "--save-summary-steps", "50", "--seed", "1", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _inspect(url: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["inspect", "--json", url]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_train_into_a_bucket_then_resume_from_it(training_url: str, capsys: pytest.CaptureFixture[str]):
    url = f"{training_url}/runs/iris"
    stranger = f"{url}/model.ckpt-7.index"  # a file ckptgui did not write: never deleted
    storage_for(url).write_atomic(stranger, b"not ours")
    out = _train(url, 300, capsys)
    assert out.splitlines()[0] == f"model_dir: {url}" and out.splitlines()[-1].endswith(f"model_dir: {url}")
    first = _inspect(url, capsys)
    assert [(c["step"], c["status"]) for c in first["checkpoints"] if c["listed"]] == [(200, "ok"), (300, "ok")]
    assert first["restore_step"] == 300 and first["event_runs"] == [".", "eval"]
    names = {entry.name for entry in storage_for(url).listdir(url)}
    assert not any(name.startswith(("model.ckpt-0.", "model.ckpt-100.")) for name in names)  # swept, ours
    assert storage_for(url).read(stranger) == b"not ours"
    assert read_written(url)[0] == {0, 100, 200, 300}  # the ledger grew by appends, in any bucket
    assert json.loads(storage_for(url).read(f"{url}/ckptgui_run.json"))["spec"]["model_dir"] == url

    out = _train(url, 100, capsys)  # a new process: the bucket is all it has
    assert "training steps 300 -> 400, resuming from" in out
    second = _inspect(url, capsys)
    assert [(c["step"], c["status"]) for c in second["checkpoints"] if c["listed"]] == [(300, "ok"), (400, "ok")]
    assert main(["scalars", "--json", url]) == 0
    loss = json.loads(capsys.readouterr().out)["runs"]["."]["tags"]["loss"]
    assert loss["last_step"] == 400


def test_a_lost_connection_fails_a_staged_run_and_leaves_the_bucket_consistent(
    s3_emulator: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    emulators.create_s3_bucket(s3_emulator, "cut")
    url = "s3://cut/runs/cut"
    remote = type(storage_for(url))
    upload = remote.write_atomic

    def cut_at_the_second_index(self, path, data):
        if str(path).endswith("model.ckpt-200.index"):
            raise StorageError(f"{path}: the storage service cannot be reached (connection reset)")
        return upload(self, path, data)

    monkeypatch.setattr(remote, "write_atomic", cut_at_the_second_index)
    argv = ["train", "--model-dir", url, "--steps", "300", "--save-checkpoints-steps", "100", "--seed", "1", "--quiet"]
    assert main(argv) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("ckptgui train: lost the connection to the bucket: ") and "connection reset" in error
    monkeypatch.undo()
    found = _inspect(url, capsys)
    assert [(c["step"], c["status"]) for c in found["checkpoints"] if c["listed"]] == [(0, "ok"), (100, "ok")]


def _spec(url: str, steps: int) -> RunSpec:
    return RunSpec(
        network=NetworkConfig(hidden_units=[10, 10], steps=steps),
        schedule=ScheduleConfig(save_checkpoints_steps=100, keep_checkpoint_max=2, save_summary_steps=50),
        model_dir=url,
        seed=1,
    )


def _steps(workspace: Workspace) -> list[tuple[int, str]]:
    return [(c.step, c.status) for c in workspace.snapshot.info.checkpoints]


@pytest.mark.slow
def test_tensorflow_writes_gs_directly_while_a_workspace_watches(gs_url: str):
    url = f"{gs_url}/runs/live"
    trainer = Trainer(_spec(url, 300))
    assert trainer.model_dir == url  # no staging folder: TensorFlow writes the bucket
    workspace, scalars = Workspace(), ScalarReader(url)
    workspace.set_model_dir(url)
    seen, swept, points = [], [], {}
    for event in trainer.events():
        assert not isinstance(event, Failed), event.message
        if isinstance(event, CheckpointSaved):
            assert event.prefix == f"{url}/model.ckpt-{event.step}"
        if isinstance(event, CheckpointDeleted):
            swept.append(event.step)
        if isinstance(event, Evaluated):  # the workspace's next look sees the checkpoint and its points
            workspace.apply_snapshot(workspace.look())
            seen.append(_steps(workspace))
            for series in scalars.poll():
                points.setdefault((series.run, series.tag), []).extend(series.steps.tolist())
            assert points[("eval", "accuracy")][-1] == event.step
            assert event.step == 0 or points[(".", "loss")][-1] == event.step
    assert seen == [
        [(0, "ok")],
        [(0, "ok"), (100, "ok")],
        [(100, "ok"), (200, "ok")],  # 0 swept: retention deleted it through the storage seam
        [(200, "ok"), (300, "ok")],
    ]
    assert swept == [0, 100] and workspace.swept_steps == {0, 100}
    assert points[(".", "loss")] == [50, 100, 150, 200, 250, 300]
    names = {entry.name for entry in storage_for(url).walk(url)}
    assert {"checkpoint", "ckptgui_run.json", "ckptgui_written.txt", "graph.pbtxt"} <= names
    assert not any("_temp" in name for name in names)  # TensorFlow's save folders are gone


@pytest.mark.slow
def test_a_lost_connection_fails_a_run_into_gs_within_the_bounds(gs_url: str, gcs_proxy: emulators.GcsProxy):
    url = f"{gs_url}/runs/cut"
    trainer = Trainer(_spec(url, 300))
    failed, started = None, None
    for event in trainer.events():
        if isinstance(event, Evaluated) and event.step == 100:
            gcs_proxy.stop()  # TensorFlow can no longer reach the bucket; the storage seam still can
            started = time.monotonic()
        if isinstance(event, Failed):
            failed = event
        assert not isinstance(event, Finished)
    assert failed is not None and started is not None
    took = time.monotonic() - started
    assert failed.message.startswith("lost the connection to the bucket: "), failed.message
    assert url in failed.message and "stay consistent" in failed.message
    retries = int(GCS_BOUNDS["GCS_RETRY_CONFIG_MAX_RETRIES"])
    assert took < 60, f"the run took {took:.0f} s to fail with {retries} retries"
    info = json.loads(_inspect_json(url))
    assert [(c["step"], c["status"]) for c in info["checkpoints"] if c["listed"]] == [(0, "ok"), (100, "ok")]


def _inspect_json(url: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["inspect", "--json", url]) == 0
    return out.getvalue()
