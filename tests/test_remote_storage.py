"""Model_dirs in buckets: the storage seam over fsspec, against fake-gcs-server (gs://) and moto (s3://) on 127.0.0.1.

Each test runs once per emulator (the ``bucket_url`` fixture); the emulators start once per session, on demand.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR, MANAGER
from emulators import upload

from ckptgui import storage
from ckptgui.cli import main
from ckptgui.formats.events import ScalarReader
from ckptgui.modeldir.records import LedgerReader, read_pins
from ckptgui.modeldir.snapshot import take_snapshot
from ckptgui.storage import RemoteStorage, StorageError, storage_for

pytest.importorskip("fsspec")


def test_listing_tokens_ranges_writes_and_deletes(bucket_url: str):
    remote = storage_for(bucket_url)
    assert isinstance(remote, RemoteStorage)
    run = remote.join(bucket_url, "run")
    remote.write_atomic(remote.join(run, "a.bin"), b"0123456789")
    remote.write_atomic(remote.join(run, "sub", "b.bin"), b"x")
    entries = {entry.name: entry for entry in remote.listdir(run)}
    assert set(entries) == {"a.bin", "sub"}
    assert entries["a.bin"].size == 10 and entries["a.bin"].is_file and entries["a.bin"].path == f"{run}/a.bin"
    assert entries["sub"].is_dir and remote.info(run).is_dir
    assert remote.read(f"{run}/a.bin", 2, 5) == b"234" and remote.read(f"{run}/a.bin", 8) == b"89"
    assert remote.read(f"{run}/a.bin", 8, 100) == b"89" and remote.read(f"{run}/a.bin", 20) == b""
    before = remote.info(f"{run}/a.bin").token
    remote.write_atomic(f"{run}/a.bin", b"new")
    assert remote.info(f"{run}/a.bin").token not in ("", before) and remote.read(f"{run}/a.bin") == b"new"
    with remote.open(f"{run}/a.bin") as handle:
        handle.seek(1)
        assert handle.read() == b"ew"
    assert sorted(entry.path for entry in remote.walk(run)) == [f"{run}/a.bin", f"{run}/sub/b.bin"]
    remote.delete(f"{run}/a.bin")
    assert remote.info(f"{run}/a.bin") is None and [entry.name for entry in remote.listdir(run)] == ["sub"]


def test_a_listing_sees_what_another_writer_added(bucket_url: str):
    """fsspec's listings cache would hide it; every listing here is a fresh request."""
    remote = storage_for(bucket_url)
    remote.write_atomic(f"{bucket_url}/run/first", b"1")
    assert [entry.name for entry in remote.listdir(f"{bucket_url}/run")] == ["first"]
    other_writer = type(remote.fs)(**remote.fs.storage_options)  # another client, as another process would be
    other_writer.pipe_file(f"{bucket_url}/run/second", b"2")
    assert sorted(entry.name for entry in remote.listdir(f"{bucket_url}/run")) == ["first", "second"]
    assert remote.info(f"{bucket_url}/run/second").size == 1


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) in (0, 1)
    return json.loads(capsys.readouterr().out)


def _same_but_where(document: dict, local: str, remote: str) -> dict:
    """The document as it reads for the remote copy: paths renamed, upload times (mtime) left out."""
    text = json.dumps(document).replace(local, remote)
    found = json.loads(text)
    for checkpoint in found.get("checkpoints", []):
        checkpoint.pop("mtime", None)
    return found


def _without_mtimes(document: dict) -> dict:
    for checkpoint in document.get("checkpoints", []):
        checkpoint.pop("mtime", None)
    return document


def _without_timings(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "seconds"}


@pytest.mark.parametrize("fixture", [ESTIMATOR, MANAGER], ids=["estimator", "tf2-manager"])
def test_inspect_verify_and_scalars_read_a_bucket_as_they_read_the_local_copy(
    bucket_url: str, fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    local = tmp_path / fixture.name
    shutil.copytree(fixture, local)
    url = f"{bucket_url}/runs/{fixture.name}"
    upload(local, url)
    for command in (["inspect", "--json"], ["verify", "--json"], ["scalars", "--json"]):
        expected = _same_but_where(_cli_json(capsys, *command, str(local)), str(local), url)
        assert _without_mtimes(_cli_json(capsys, *command, url)) == expected, command
    at_step = _cli_json(
        capsys, "inspect", "--json", f"{url}@{_cli_json(capsys, 'inspect', '--json', url)['latest_step']}"
    )
    assert len(at_step["checkpoints"]) == 1 and at_step["variables"]


def test_a_missing_extra_is_named_with_its_install_command(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(storage, "_remotes", {})
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # import gcsfs raises ImportError
    monkeypatch.setitem(sys.modules, "gcsfs.core", None)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with pytest.raises(StorageError, match=r"gs:// paths need a package that is not installed .*ckptgui\[gcs\]"):
        storage_for("gs://bucket/run")


def test_an_unknown_scheme_is_refused_with_what_is_supported():
    with pytest.raises(StorageError, match="nosuch:// is not a storage fsspec knows; use a local path, gs:// or s3://"):
        storage_for("nosuch://bucket/run")


def test_an_unreachable_service_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], s3_emulator: str
):
    from emulators import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    remote = storage_for("s3://bucket/run")
    remote.fs.retries = 1
    assert main(["inspect", "s3://bucket/run"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("ckptgui inspect: s3://bucket/run") and "cannot be reached" in error
    assert len(error.splitlines()) == 1


def _count_requests(monkeypatch: pytest.MonkeyPatch, remote: RemoteStorage) -> list[str]:
    """Every HTTP request the storage's client sends from now on (gcsfs ``_call``, s3fs ``_call_s3``)."""
    sent: list[str] = []
    name = "_call" if hasattr(type(remote.fs), "_call") else "_call_s3"
    original = getattr(remote.fs, name)

    async def counting(*args, **kwargs):
        sent.append(str(args[:2]))
        return await original(*args, **kwargs)

    monkeypatch.setattr(remote.fs, name, counting)
    return sent


def test_an_idle_scalars_poll_is_one_listing_and_a_rewritten_event_file_is_read_on(
    bucket_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """TensorFlow rewrites an event object whole at each flush on GCS: the reader goes on from its offset."""
    events = next(ESTIMATOR.glob("events.out.tfevents.*"))
    whole = events.read_bytes()
    url = f"{bucket_url}/model"
    remote = storage_for(url)
    remote.write_atomic(f"{url}/{events.name}", whole[:-100])  # a flush before the last record was written
    reader = ScalarReader(url)
    counts = Counter({s.tag: len(s) for s in reader.poll()})
    assert counts
    sent = _count_requests(monkeypatch, remote)
    assert reader.poll() == []
    assert len(sent) == 1, sent  # idle: one listing, nothing read
    remote.write_atomic(f"{url}/{events.name}", whole)  # the next flush
    sent.clear()
    more = reader.poll()
    assert more and len(sent) <= 3, sent  # the listing, then the changed object only, from where reading stopped
    counts.update({s.tag: len(s) for s in more})
    assert counts == {s.tag: len(s) for s in ScalarReader(events).poll()}


def test_diff_check_eval_and_predict_read_a_bucket_as_they_read_the_local_copy(
    bucket_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Tensors of a checkpoint in a bucket come by byte ranges, decoded and CRC-checked without TensorFlow's
    file system (which cannot read s3:// at all); a diff may take one side local and the other remote."""
    local = tmp_path / "model"
    shutil.copytree(ESTIMATOR, local)
    url = f"{bucket_url}/model"
    upload(local, url)

    def same(*argv: str) -> None:
        expected = _cli_json(capsys, *(arg.replace("DIR", str(local)) for arg in argv))
        found = _cli_json(capsys, *(arg.replace("DIR", url) for arg in argv))
        found = json.loads(json.dumps(found).replace(url, str(local)))
        assert _without_timings(found) == _without_timings(expected), argv

    same("diff", "--json", "DIR@0", "DIR@200")
    same("check", "--json", "--hidden-units", "10,10", "DIR")
    same("eval", "--json", "--step", "100", "DIR")
    same("predict", "--json", "--features", "5.1,3.5,1.4,0.2", "DIR")
    across = _cli_json(capsys, "diff", "--json", f"{local}@0", f"{url}@200")
    assert across["variables"] == _cli_json(capsys, "diff", "--json", f"{local}@0", f"{local}@200")["variables"]


def test_pins_are_kept_in_the_bucket_and_clean_only_lists_there(
    bucket_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    local = tmp_path / "model"
    shutil.copytree(ESTIMATOR, local)
    temp = local / "model.ckpt-300_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"partial")
    url = f"{bucket_url}/model"
    upload(local, url)
    assert main(["pin", url, "100"]) == 0
    assert capsys.readouterr().out.strip() == f"pinned steps in {url}: 100"
    assert read_pins(url) == {100}
    assert main(["pin", url, "150"]) == 2 and "no checkpoint model.ckpt-150 to pin" in capsys.readouterr().err
    assert main(["unpin", url, "100"]) == 0 and capsys.readouterr().out.strip() == f"pinned steps in {url}: none"
    assert main(["clean", url]) == 0
    assert "would remove model.ckpt-300_temp  (temporary folder" in capsys.readouterr().out
    assert main(["clean", "--yes", url]) == 2 and "removes nothing in a bucket" in capsys.readouterr().err
    assert storage_for(url).info(f"{url}/model.ckpt-300_temp/part-00000-of-00001.data-00000-of-00001") is not None


def test_an_idle_look_at_a_bucket_is_one_request_and_a_new_checkpoint_shows_at_the_next(
    bucket_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The live view's look (files, checkpoints, why kept): one recursive listing answers every folder's."""
    local = tmp_path / "model"
    shutil.copytree(ESTIMATOR, local)
    newest = sorted(local.glob("model.ckpt-200.*"))
    held_back = {path.name: path.read_bytes() for path in newest}
    for path in newest:
        path.unlink()
    url = f"{bucket_url}/model"
    upload(local, url)
    ledger = LedgerReader(url)
    first = take_snapshot(url, None, ledger)
    assert first.error is None and [c.step for c in first.info.checkpoints] == [0, 100, 200]
    assert first.info.checkpoint(200).status == "missing"  # listed in the state file, not uploaded yet
    assert {entry.name for entry in first.files} >= {"eval/", "eval/" + next(local.glob("eval/*")).name}
    sent = _count_requests(monkeypatch, storage_for(url))
    assert take_snapshot(url, first.files, ledger) is None
    assert len(sent) == 1, sent
    for name in sorted(held_back, key=lambda name: name.endswith(".index")):  # data first, as TensorFlow does
        storage_for(url).write_atomic(f"{url}/{name}", held_back[name])
    second = take_snapshot(url, first.files, ledger)
    assert second is not None and second.info.checkpoint(200).status == "ok"
    assert second.info.restore_step == 200


def test_the_window_command_takes_a_bucket_url_as_it_is():
    from ckptgui.commands.gui import model_dir_argument

    assert model_dir_argument("s3://bucket/runs/iris/") == "s3://bucket/runs/iris"
