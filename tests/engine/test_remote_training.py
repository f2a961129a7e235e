"""``ckptgui train --model-dir gs://… / s3://…``: a staging folder mirrored to the bucket, resumable from it."""

from __future__ import annotations

import json

import pytest

from ckptgui.cli import main
from ckptgui.storage import StorageError, storage_for


def _train(url: str, steps: int, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["train", "--model-dir", url, "--steps", str(steps), "--save-checkpoints-steps", "100"]
    argv += ["--keep-checkpoint-max", "2", "--save-summary-steps", "50", "--seed", "1", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _inspect(url: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["inspect", "--json", url]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_into_a_bucket_then_resume_from_it(bucket_url: str, capsys: pytest.CaptureFixture[str]):
    url = f"{bucket_url}/runs/iris"
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
    assert json.loads(storage_for(url).read(f"{url}/ckptgui_run.json"))["spec"]["model_dir"] == url

    out = _train(url, 100, capsys)  # a new process: the bucket is all it has
    assert "training steps 300 -> 400, resuming from" in out
    second = _inspect(url, capsys)
    assert [(c["step"], c["status"]) for c in second["checkpoints"] if c["listed"]] == [(300, "ok"), (400, "ok")]
    assert main(["scalars", "--json", url]) == 0
    loss = json.loads(capsys.readouterr().out)["runs"]["."]["tags"]["loss"]
    assert loss["last_step"] == 400


def test_a_lost_connection_fails_the_run_and_leaves_the_bucket_consistent(
    bucket_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    url = f"{bucket_url}/runs/cut"
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
