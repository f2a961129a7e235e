"""multi_worker: two ``ckptgui train`` processes on 127.0.0.1 train as one; only the chief writes the model_dir.

Each worker is a subprocess with its own TF_CONFIG (free loopback ports), waited for with a timeout and killed
by PID whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ckptgui.engine.training import Trainer
from ckptgui.modeldir.config import NetworkConfig, RunSpec, ScheduleConfig
from ckptgui.modeldir.records import read_run_log
from ckptgui.storage import storage_for

WORKERS = 2
TIMEOUT_S = 180


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_workers(model_dir: Path, logs: Path, *flags: str) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(WORKERS)]}
    logs.mkdir(parents=True, exist_ok=True)
    workers = []
    for index in range(WORKERS):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        command = [sys.executable, "-m", "ckptgui", "train", "--model-dir", str(model_dir), "--quiet"]
        command += ["--distribution", "multi_worker", "--seed", "3", "--save-checkpoints-steps", "100", *flags]
        with open(logs / f"worker{index}.out", "w") as out, open(logs / f"worker{index}.err", "w") as err:
            workers.append(subprocess.Popen(command, env=env, stdout=out, stderr=err))
    return workers


def finish(workers: list[subprocess.Popen], logs: Path) -> list[tuple[int, str, str]]:
    """Each worker's exit status, stdout and stderr; a worker still running after the timeout is killed."""
    try:
        deadline = time.monotonic() + TIMEOUT_S
        codes = [worker.wait(timeout=max(1.0, deadline - time.monotonic())) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return [
        (code, (logs / f"worker{i}.out").read_text(), (logs / f"worker{i}.err").read_text())
        for i, code in enumerate(codes)
    ]


def files(model_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(model_dir)).split(".out.tfevents")[0] for p in model_dir.rglob("*") if p.is_file())


def test_two_workers_train_as_one_and_only_the_chief_writes(tmp_path):
    model_dir, single_dir = tmp_path / "cluster", tmp_path / "single"
    results = finish(start_workers(model_dir, tmp_path / "logs", "--steps", "200"), tmp_path / "logs")
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert "finished at step 200" in out
    assert "worker 0 of 2, the chief" in results[0][1] and "worker 1 of 2" in results[1][1]
    schedule = ScheduleConfig(save_checkpoints_steps=100)
    Trainer(RunSpec(network=NetworkConfig(steps=200), schedule=schedule, model_dir=str(single_dir), seed=3)).run()
    assert files(model_dir) == files(single_dir)  # one event file, one run log entry: nothing from worker 1
    assert len(list(model_dir.glob("events.out.tfevents.*"))) == 1
    history = read_run_log(model_dir).history
    assert [entry["distribution"].get("worker") for entry in history] == ["worker 0 of 2, the chief"]
    for step in (0, 100, 200):
        prefix = f"model.ckpt-{step}"
        cluster, single = (tf.train.load_checkpoint(str(d / prefix)) for d in (model_dir, single_dir))
        assert cluster.get_variable_to_shape_map() == single.get_variable_to_shape_map()
    for key in cluster.get_variable_to_shape_map():
        if key.startswith("dnn/") and "OPTIMIZER_SLOT" not in key:
            np.testing.assert_allclose(cluster.get_tensor(key), single.get_tensor(key), rtol=0, atol=5e-6)


@pytest.mark.parametrize("loss", ["killed", "frozen"])
def test_a_lost_worker_fails_the_other_naming_it_and_a_new_job_resumes(tmp_path, loss):
    """Killed: the chief's collective fails within ~1 s; frozen (SIGSTOP): after ~10 s of missed heartbeats."""
    model_dir, logs = tmp_path / "cluster", tmp_path / "logs"
    workers = start_workers(model_dir, logs, "--steps", "1000000")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not (model_dir / "model.ckpt-200.index").exists():
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "no checkpoint 200"
            time.sleep(0.1)
        workers[1].send_signal(signal.SIGKILL if loss == "killed" else signal.SIGSTOP)
        killed = time.monotonic()
        chief = finish(workers[:1], logs)[0]
        assert time.monotonic() - killed < 30
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    code, _, err = chief
    assert code == 1
    assert "lost contact with worker 1" in err and "(this is worker 0 of 2, the chief)" in err
    assert "Start all workers again: the job resumes from the last checkpoint." in err
    last = max(int(p.name.split("-")[1].split(".")[0]) for p in model_dir.glob("model.ckpt-*.index"))
    results = finish(start_workers(model_dir, tmp_path / "again", "--steps", "100"), tmp_path / "again")
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert f"training steps {last} -> {last + 100}, resuming from {model_dir / f'model.ckpt-{last}'}" in out


@pytest.mark.slow
def test_a_bucket_is_the_shared_model_dir_and_only_the_chief_uploads(training_url, tmp_path):
    url = f"{training_url}/cluster"
    results = finish(start_workers(url, tmp_path / "logs", "--steps", "200"), tmp_path / "logs")
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert "finished at step 200" in out
    storage = storage_for(url)
    names = sorted(entry.name for entry in storage.listdir(url) if not entry.is_dir)
    assert len([name for name in names if name.startswith("events.out.tfevents.")]) == 1  # the chief's only
    assert {"model.ckpt-100.index", "model.ckpt-200.index", "checkpoint", "ckptgui_run.json"} <= set(names)
    history = json.loads(storage.read(f"{url}/ckptgui_run.json"))["history"]
    assert [entry["distribution"].get("worker") for entry in history] == ["worker 0 of 2, the chief"]
    assert main_inspect(url)["restore_step"] == 200


def main_inspect(url: str) -> dict:
    """``ckptgui inspect --json URL`` in a fresh process: what any reader of the bucket sees."""
    done = subprocess.run(
        [sys.executable, "-m", "ckptgui", "inspect", "--json", url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)
