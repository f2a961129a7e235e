"""Fault injection: kills mid-save, full and read-only disks, readers racing a writer, stop at any moment.

The counts each test reaches are printed (``pytest -s -m reliability``) and are the figures in the README's
"Reliability" table.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tensorflow as tf

from ckptgui.engine.inference import evaluate
from ckptgui.engine.training import CheckpointSaved, Failed, Finished, Progress, Started, Trainer
from ckptgui.modeldir.cleanup import leftovers
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.records import read_written
from ckptgui.modeldir.scan import scan
from ckptgui.modeldir.verify import verify

pytestmark = pytest.mark.reliability

CRASH_TRIALS = 20


def spec_for(model_dir: Path, steps: int, **schedule) -> RunSpec:
    schedule.setdefault("save_checkpoints_steps", 10)
    schedule.setdefault("keep_checkpoint_max", 2)
    return RunSpec(
        network=NetworkConfig(steps=steps), schedule=ScheduleConfig(**schedule), model_dir=str(model_dir), seed=3
    )


def start_training(model_dir: Path) -> subprocess.Popen:
    """A real ``ckptgui train`` that saves every 10 steps with keep_checkpoint_max=2: mostly saving and sweeping."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ckptgui",
            "train",
            "--model-dir",
            str(model_dir),
            "--steps",
            "10000000",
            "--save-checkpoints-steps",
            "10",
            "--keep-checkpoint-max",
            "2",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def save_in_progress(model_dir: Path) -> bool:
    """Signs that the kill landed inside a save: temp files, or files newer than the ledger or the state file."""
    if leftovers(model_dir):
        return True
    ours, _ = read_written(model_dir)
    on_disk = {int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("model.ckpt-*.index")}
    listed = set()
    state = tf.train.get_checkpoint_state(str(model_dir))
    if state is not None:
        listed = {int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths}
    return bool(on_disk - ours) or bool(ours & on_disk - listed) or bool(listed - on_disk)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_the_latest_healthy_checkpoint(tmp_path):
    rng = random.Random(20261123)
    hit_saves = 0
    for trial in range(CRASH_TRIALS):
        model_dir = tmp_path / f"trial-{trial}"
        process = start_training(model_dir)
        wait_for(lambda d=model_dir: len(read_written(d)[0]) >= 3)  # past start-up and XLA compilation
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        hit_saves += save_in_progress(model_dir)

        checked = verify(model_dir)
        ok = [c for c in checked if c.status == "ok"]
        assert ok, f"trial {trial}: no healthy checkpoint left: {[(c.step, c.status, c.reason) for c in checked]}"
        assert all(c.status != "corrupt" or not c.listed for c in checked), (
            f"trial {trial}: a listed checkpoint is corrupt"
        )
        restore_step = scan(model_dir).restore_step
        assert restore_step == ok[-1].step
        result = evaluate(str(model_dir), split="test")
        assert result.step == restore_step and result.examples == 30

        events = list(Trainer(spec_for(model_dir, 10)).events())
        started = events[0]
        assert isinstance(started, Started), events
        assert started.start_step == restore_step
        assert isinstance(events[-1], Finished) and events[-1].step == restore_step + 10
    print(f"\n{CRASH_TRIALS} SIGKILL trials, {hit_saves} landed while a save or sweep was in progress")
    assert hit_saves >= 1


def test_leftovers_are_reported_and_removed_only_by_clean(tmp_path, capsys):
    from ckptgui.cli import main

    Trainer(spec_for(tmp_path, 20)).run()
    temp = tmp_path / "model.ckpt-25_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 64)
    (tmp_path / "model.ckpt-40.data-00000-of-00001").write_bytes(b"\0" * 64)
    assert {Path(p).name for p, _ in leftovers(tmp_path)} == {"model.ckpt-25_temp", "model.ckpt-40.data-00000-of-00001"}
    Trainer(spec_for(tmp_path, 10)).run()
    assert temp.exists()  # training never removes what it did not write
    assert main(["clean", str(tmp_path)]) == 0
    assert "would remove model.ckpt-25_temp" in capsys.readouterr().out
    assert temp.exists()
    assert main(["clean", str(tmp_path), "--yes"]) == 0
    assert not temp.exists() and not (tmp_path / "model.ckpt-40.data-00000-of-00001").exists()
    assert [c.status for c in verify(tmp_path)] == ["ok", "ok"]


def test_stop_at_random_moments_leaves_no_half_written_checkpoint_listed(tmp_path):
    rng = random.Random(7)
    for trial in range(6):
        model_dir = tmp_path / f"stop-{trial}"
        trainer = Trainer(spec_for(model_dir, 10_000_000, save_checkpoints_steps=7))
        threading.Timer(rng.uniform(0.2, 1.0), trainer.stop).start()
        if trial % 2:
            threading.Timer(rng.uniform(0.05, 0.2), trainer.pause).start()
            threading.Timer(rng.uniform(0.3, 0.5), trainer.resume).start()
        events = list(trainer.events())
        finished = events[-1]
        assert isinstance(finished, Finished) and finished.stopped
        reached = [e.start_step for e in events if isinstance(e, Started)]
        reached += [e.step for e in events if isinstance(e, Progress)]
        assert finished.step == reached[-1]
        assert [e.step for e in events if isinstance(e, CheckpointSaved)][-1] == finished.step
        assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"model.ckpt-{finished.step}")
        assert all(c.status == "ok" for c in verify(model_dir))


@pytest.mark.slow
def test_readers_racing_a_fast_writer_never_fail(tmp_path):
    """The inspector and the directory view read while a trainer saves as fast as it can with keep_max=1."""
    trainer = Trainer(spec_for(tmp_path, 4_000, save_checkpoints_steps=1, keep_checkpoint_max=1))
    reads = errors = swept = 0
    done = threading.Event()

    def read_loop() -> None:
        nonlocal reads, errors, swept
        while not done.is_set():
            try:
                for checkpoint in verify(tmp_path):
                    swept += checkpoint.status == "missing"
                reads += 1
            except Exception:  # noqa: BLE001 - counted: the assertion below requires zero
                errors += 1

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        trainer.run()
    finally:
        done.set()
        reader.join()
    print(
        f"\n{reads} full reads during 4,000 saves with keep_checkpoint_max=1: {swept} checkpoints met "
        f"mid-sweep (reported as missing), {errors} errors"
    )
    assert reads > 100 and errors == 0


def mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"needs permission to mount a tmpfs (root): {result.stderr.decode().strip()}")


def test_a_full_disk_mid_save_reports_and_keeps_earlier_checkpoints(tmp_path):
    disk = tmp_path / "small"
    mount_tmpfs(disk, "size=160k")
    try:
        model_dir = disk / "run"
        events = list(Trainer(spec_for(model_dir, 10_000, keep_checkpoint_max=0)).events())
        failed = events[-1]
        assert isinstance(failed, Failed), events[-3:]
        assert "No space left on device" in failed.message or "space" in failed.message.lower()
        saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
        assert saved
        latest = tf.train.latest_checkpoint(str(model_dir))
        assert latest.endswith(f"model.ckpt-{saved[-1]}")
        assert [c.status for c in verify(model_dir) if c.listed] == ["ok"] * len(saved)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_read_only_model_dir_is_refused_with_a_clear_message(tmp_path):
    from ckptgui.modeldir.config import ConfigError

    source = tmp_path / "source"
    Trainer(spec_for(source, 10)).run()
    disk = tmp_path / "ro"
    mount_tmpfs(disk, "size=1m")
    try:
        (disk / "run").mkdir()
        for path in source.iterdir():
            if path.is_file():
                (disk / "run" / path.name).write_bytes(path.read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        before = sorted(p.name for p in (disk / "run").iterdir())
        with pytest.raises(ConfigError, match=r"model_dir: .* is not writable"):
            Trainer(spec_for(disk / "run", 10))
        assert sorted(p.name for p in (disk / "run").iterdir()) == before
        assert evaluate(str(disk / "run")).step == 10  # still readable and restorable
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def damage(model_dir: Path, kind: str) -> None:
    """Damage checkpoint 200 (the latest) or the state file, as a crash or a bad disk would."""
    index = model_dir / "model.ckpt-200.index"
    data = model_dir / "model.ckpt-200.data-00000-of-00001"
    if kind == "empty index":
        index.write_bytes(b"")
    elif kind == "half index":
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif kind == "truncated data":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif kind == "flipped byte in data":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 3] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif kind == "missing shard":
        data.unlink()
    elif kind == "empty state file":
        (model_dir / "checkpoint").write_text("")
    elif kind == "garbled state file":
        (model_dir / "checkpoint").write_bytes(b"model_checkpoint_path: \x00\xff garbage {{")


@pytest.mark.parametrize(
    ("kind", "resumes_from"),
    [
        ("empty index", 100),
        ("half index", 100),
        ("truncated data", 100),
        ("flipped byte in data", 100),
        ("missing shard", 100),
        ("empty state file", 200),
        ("garbled state file", 200),
    ],
)
def test_resume_falls_back_to_the_newest_healthy_checkpoint_and_says_so(tmp_path, kind, resumes_from):
    Trainer(spec_for(tmp_path, 200, save_checkpoints_steps=100, keep_checkpoint_max=0)).run()
    damage(tmp_path, kind)
    events = list(Trainer(spec_for(tmp_path, 50, save_checkpoints_steps=100, keep_checkpoint_max=0)).events())
    started = events[0]
    assert isinstance(started, Started), events
    assert started.start_step == resumes_from
    assert started.notes, "the fallback must be explained"
    assert isinstance(events[-1], Finished) and events[-1].step == resumes_from + 50
    assert (tmp_path / "model.ckpt-0.index").exists() and (tmp_path / "model.ckpt-100.index").exists()


def test_a_huge_csv_loads_and_trains(tmp_path):
    """200,000 rows (≈ 7 MB): read in one pass, split, and trained on without holding per-row Python objects."""
    rng = random.Random(5)
    path = tmp_path / "huge.csv"
    with path.open("w") as out:
        out.write("a,b,c,d,label\n")
        for _ in range(200_000):
            values = [rng.uniform(-1, 1) for _ in range(4)]
            out.write(",".join(f"{v:.5f}" for v in values) + f",{int(values[0] > 0)}\n")
    from ckptgui.modeldir.config import DataConfig

    spec = RunSpec(
        network=NetworkConfig(steps=20),
        schedule=ScheduleConfig(save_checkpoints_steps=10),
        data=DataConfig(source=str(path)),
        model_dir=str(tmp_path / "run"),
        seed=1,
    )
    trainer = Trainer(spec)
    assert trainer.dataset.features.shape == (200_000, 4) and trainer.n_classes == 2
    assert trainer.run().step == 20


# Two trainers, signals, unreadable checkpoints ---------------------------------------------------------


def train_cli(model_dir: Path, *args: str, prefix: tuple[str, ...] = (), **popen) -> subprocess.Popen:
    """``ckptgui train`` in a subprocess, its stderr piped (the refusals and notes are read from it)."""
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "ckptgui", "train", "--model-dir", str(model_dir), "--quiet", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **popen.pop("env", {})},
        **popen,
    )


def test_a_second_trainer_is_refused_naming_the_holder_and_writes_nothing(tmp_path):
    from ckptgui.engine.training import TrainingError
    from ckptgui.modeldir.lock import ModelDirLock

    Trainer(spec_for(tmp_path, 10)).run()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with ModelDirLock(tmp_path), pytest.raises(TrainingError, match=rf"being trained by pid {os.getpid()} on "):
        Trainer(spec_for(tmp_path, 10))
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    events = list(Trainer(spec_for(tmp_path, 10)).events())  # free again once the holder let go
    assert isinstance(events[-1], Finished) and events[-1].step == 20


@pytest.mark.slow
def test_two_cli_trainers_on_one_model_dir_the_second_is_refused(tmp_path):
    first = start_training(tmp_path)
    try:
        wait_for(lambda: len(read_written(tmp_path)[0]) >= 2)
        second = train_cli(tmp_path, "--steps", "10")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 1, err
        assert f"being trained by pid {first.pid} on " in err
        assert first.poll() is None  # the holder trains on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = train_cli(tmp_path, "--steps", "10")  # a SIGKILLed holder leaves no lock behind
    _, err = third.communicate(timeout=120)
    assert third.returncode == 0, err


@pytest.mark.slow
def test_sigterm_writes_a_final_checkpoint_and_closes_the_history(tmp_path):
    from ckptgui.modeldir.records import read_run_log

    process = train_cli(tmp_path, "--steps", "100000000")  # checkpoints every 600 s: only the first and the final
    wait_for(lambda: 0 in read_written(tmp_path)[0])
    time.sleep(2.0)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    took = time.monotonic() - sent
    assert process.returncode == 0, err
    steps = sorted(read_written(tmp_path)[0])
    assert steps[0] == 0 and steps[-1] > 0
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith(f"model.ckpt-{steps[-1]}")
    history = read_run_log(tmp_path).history[-1]
    assert history["stopped"] is True and history["end_step"] == steps[-1] and "finished" in history
    print(f"\nSIGTERM: final checkpoint at step {steps[-1]}, process ended {took:.2f} s after the signal")


def _bound_by_permissions() -> tuple[str, ...]:
    """A command prefix under which file permissions hold: root reads any file unless it drops these capabilities."""
    if os.geteuid() != 0:
        return ()
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", "--bounding-set", caps, "--inh-caps", caps, "--")


@pytest.mark.slow
def test_an_unreadable_newest_checkpoint_is_neither_passed_over_nor_swept(tmp_path):
    model_dir = tmp_path / "run"
    prefix = _bound_by_permissions()
    first = train_cli(model_dir, "--steps", "20", "--save-checkpoints-steps", "10", prefix=prefix)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    newest = model_dir / "model.ckpt-20.index"
    newest.chmod(0)
    try:
        second = train_cli(model_dir, "--steps", "10", "--keep-checkpoint-max", "1", prefix=prefix)
        _, err = second.communicate(timeout=120)
    finally:
        newest.chmod(0o644)
    assert second.returncode == 1, err
    assert "model.ckpt-20 cannot be read now (model.ckpt-20.index: Permission denied)" in err
    assert [c.step for c in verify(model_dir) if c.status == "ok"] == [0, 10, 20]


# Damaged files of ours, bad settings: a clear message, exit 2, nothing written --------------------------

DAMAGED_JSON = {
    "garbage": b"\x00\xffnot json",
    "empty": b"",
    "deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "1e400": b'{"pinned": [1e400], "preserved": [1e400]}',
    "wrong types": b'{"pinned": "all", "history": 5, "preserved": ["x"], "data": []}',
    "NaN": b'{"pinned": [NaN], "preserved": [NaN]}',
}


@pytest.mark.parametrize("name", ["ckptgui_pins.json", "ckptgui_run.json"])
def test_a_damaged_pins_or_run_log_file_refuses_train_and_pin_naming_it(tmp_path, capsys, name):
    from ckptgui.cli import main

    Trainer(spec_for(tmp_path, 10)).run()
    kinds = {**DAMAGED_JSON, "a directory": None}
    for kind, content in kinds.items():
        target = tmp_path / name
        target.unlink(missing_ok=True)
        if content is None:
            target.mkdir()
        else:
            target.write_bytes(content)
        before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
        code = main(["train", "--model-dir", str(tmp_path), "--steps", "10", "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, (kind, err)
        assert f"{target}:" in err and "Traceback" not in err, (kind, err)
        assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before, kind
        if name == "ckptgui_pins.json":
            assert main(["pin", str(tmp_path), "10"]) == 2, kind
            assert f"{target}:" in capsys.readouterr().err
        if content is None:
            target.rmdir()
    print(f"\n{name}: {len(kinds)} kinds of damage, each refused with exit 2 naming the file, nothing written")


def test_a_pins_file_damaged_mid_run_skips_the_sweep_but_never_the_state_file(tmp_path):
    from ckptgui.engine.training import CheckpointSaved

    trainer = Trainer(spec_for(tmp_path, 40, keep_checkpoint_max=1))
    saved = []
    for event in trainer.events():
        if isinstance(event, CheckpointSaved):
            saved.append(event)
            if event.step == 10:
                (tmp_path / "ckptgui_pins.json").write_bytes(b"{broken")
    assert [e.step for e in saved] == [0, 10, 20, 30, 40]
    assert "nothing swept: " in saved[-1].note and "ckptgui_pins.json" in saved[-1].note
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path.endswith("model.ckpt-40")
    assert [c.step for c in verify(tmp_path) if c.status == "ok"] == [10, 20, 30, 40]  # 0 swept before the damage


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--learning-rate", "inf"], "learning_rate: inf is not allowed"),
        (["--seed", "-1"], "seed: -1 is not allowed"),
        (["--seed", str(2**66)], "seed: 73786976294838206464 is not allowed"),
        (["--batch-size", "10000000"], "batch_size: 10000000 is not allowed"),
        (["--n-classes", "1000000000"], "n_classes: 1000000000 is not allowed"),
        (["--data", "/dev/zero"], "/dev/zero: is not a regular file"),
        (["--warm-start-from", "/nonexistent/model.ckpt-5"], "warm_start_from: no checkpoint to warm-start from"),
    ],
)
def test_bad_settings_exit_2_before_anything_is_written(tmp_path, capsys, args, message):
    from ckptgui.cli import main

    model_dir = tmp_path / "run"
    model_dir.mkdir()
    assert main(["train", "--model-dir", str(model_dir), "--steps", "10", *args]) == 2
    assert message in capsys.readouterr().err
    assert list(model_dir.iterdir()) == []


def test_an_empty_model_dir_argument_is_refused(tmp_path, capsys, monkeypatch):
    from ckptgui.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model-dir", "", "--steps", "10"]) == 2
    assert 'model_dir: "" is not a directory path' in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_warm_start_into_a_model_dir_with_checkpoints_is_refused(tmp_path):
    from ckptgui.modeldir.config import ConfigError

    Trainer(spec_for(tmp_path / "a", 10)).run()
    Trainer(spec_for(tmp_path / "b", 10)).run()
    with pytest.raises(ConfigError, match=r"already has checkpoints, so training resumes from model\.ckpt-10"):
        Trainer(spec_for(tmp_path / "b", 10), warm_start_from=str(tmp_path / "a" / "model.ckpt-10"))


def test_a_diverging_run_stops_and_keeps_the_last_finite_checkpoint_latest(tmp_path):
    spec = spec_for(tmp_path, 400, save_checkpoints_steps=1000, save_summary_steps=1000)
    spec.network.optimizer, spec.network.learning_rate = "SGD", 1e30
    events = list(Trainer(spec).events())
    failed = events[-1]
    assert isinstance(failed, Failed) and "the training loss became" in failed.message, events[-3:]
    assert "the latest checkpoint stays step 0" in failed.message
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-0")
    assert [c.status for c in verify(tmp_path)] == ["ok"]


@pytest.mark.parametrize("removed", ["events file", "model_dir"])
def test_outputs_removed_mid_run_stop_the_run_with_a_clear_message(tmp_path, removed):
    import shutil

    model_dir = tmp_path / "run"
    spec = spec_for(model_dir, 5000, save_checkpoints_steps=1000, save_summary_steps=10)
    events = []
    for event in Trainer(spec).events():
        events.append(event)
        if isinstance(event, Progress) and len(events) < 10 and not any(isinstance(e, Progress) for e in events[:-1]):
            if removed == "model_dir":
                shutil.rmtree(model_dir)
            else:
                for path in model_dir.glob("events.out.tfevents.*"):
                    path.unlink()
    failed = events[-1]
    assert isinstance(failed, Failed), events[-3:]
    if removed == "model_dir":
        assert "was removed while training" in failed.message
        assert not model_dir.exists()  # nothing recreated
    else:
        assert "was deleted while training, so later summaries would be lost" in failed.message


# Peak memory on hostile data ---------------------------------------------------------------------------

HOSTILE_RSS_LIMIT_MB = 200  # above the interpreter with TensorFlow imported and its CPU device set up
_PEAK_RSS = """
import resource, sys
import tensorflow as tf
from ckptgui.cli import main
tf.config.list_logical_devices()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = main(sys.argv[1:])
print(f"{base} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {code}")
"""


@pytest.mark.slow
def test_hostile_data_stays_within_the_memory_limit(tmp_path):
    import json

    trained = tmp_path / "trained"
    Trainer(spec_for(trained, 10)).run()
    log = json.loads((trained / "ckptgui_run.json").read_text())
    log["spec"]["data"]["source"] = "/dev/zero"
    (trained / "ckptgui_run.json").write_text(json.dumps(log))
    label = tmp_path / "label.csv"
    label.write_text("a,b,label\n1,2,2000000000\n3,4,0\n")
    header = tmp_path / "header.csv"
    header.write_text("30,1000000000,x,y\n1,2,0\n3,4,1\n")
    run = str(tmp_path / "run")
    cases = {
        "--data /dev/zero": ["train", "--model-dir", run, "--data", "/dev/zero"],
        "CSV label 2000000000": ["train", "--model-dir", run, "--data", str(label)],
        "tutorial header 30,1000000000": ["train", "--model-dir", run, "--data", str(header)],
        "--n-classes 1000000000": ["train", "--model-dir", run, "--n-classes", "1000000000"],
        "--batch-size 10000000": ["train", "--model-dir", run, "--batch-size", "10000000"],
        "eval, run log data /dev/zero": ["eval", str(trained)],
    }
    lines = []
    for name, args in cases.items():
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        base, peak, code = map(int, done.stdout.split()[-3:])
        above = (peak - base) / 1024
        lines.append(f"{name}: exit {code}, peak RSS {peak / 1024:.0f} MB, {above:.1f} MB above the baseline")
        assert code == 2, (name, done.stderr[-2000:])
        assert above <= HOSTILE_RSS_LIMIT_MB, lines[-1]
    print("\n" + "\n".join(lines))
