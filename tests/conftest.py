"""Shared test setup: headless Qt, isolated settings, quiet TensorFlow, cloud storage emulators on demand."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import emulators
import pytest

import ckptgui.engine  # noqa: F401 - TensorFlow's GCS retry bounds, set before any test module imports TensorFlow

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Cloud storage emulators (tests/emulators.py): started once per session, only by the tests that ask for them.


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """fake-gcs-server on a free loopback port; ``STORAGE_EMULATOR_HOST`` points at it. Yields its endpoint."""
    with emulators.running(emulators.fake_gcs_server(), emulators.GCS_ENVIRONMENT) as server:
        os.environ["STORAGE_EMULATOR_HOST"] = server.endpoint
        try:
            yield server.endpoint
        finally:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)


@pytest.fixture
def s3_emulator() -> Iterator[str]:
    """moto's S3 server on a free loopback port; ``AWS_ENDPOINT_URL`` points at it. Yields its endpoint.

    One server per test: moto's server was seen to stop answering after concurrent writes and reads (a test
    polling a bucket while another thread uploads), and a wedged server must not take the tests after it along.
    """
    with emulators.running(emulators.moto_server(), emulators.S3_ENVIRONMENT) as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        try:
            yield server.endpoint
        finally:
            os.environ.pop("AWS_ENDPOINT_URL", None)


_buckets = itertools.count()


@pytest.fixture(params=["gs", "s3"])
def bucket_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket on each emulator in turn, as ``gs://NAME`` or ``s3://NAME``."""
    name = f"ckptgui-test-{next(_buckets)}"
    if request.param == "gs":
        emulators.create_gcs_bucket(request.getfixturevalue("gcs_emulator"), name)
    else:
        emulators.create_s3_bucket(request.getfixturevalue("s3_emulator"), name)
    return f"{request.param}://{name}"


# Buckets a run trains into: TensorFlow writes gs:// itself, through its proxy to the emulator (its endpoint is
# hard-coded); s3:// goes through a staging folder mirrored to the bucket.
@pytest.fixture
def gcs_proxy(gcs_emulator: str, tmp_path: Path) -> Iterator[emulators.GcsProxy]:
    """TensorFlow's way to the emulator, for one test (a test may stop it: a lost connection)."""
    proxy = emulators.GcsProxy(gcs_emulator, tmp_path)
    with emulators.running(proxy, proxy.environment):
        yield proxy


@pytest.fixture
def gs_url(gcs_emulator: str, gcs_proxy: emulators.GcsProxy) -> str:
    name = f"ckptgui-tf-{next(_buckets)}"
    emulators.create_gcs_bucket(gcs_emulator, name)
    return f"gs://{name}"


@pytest.fixture(params=["gs", "s3"])
def training_url(request: pytest.FixtureRequest) -> str:
    """A fresh bucket of each kind a run writes: ``gs://`` (TensorFlow writes it), ``s3://`` (a staging mirror)."""
    if request.param == "gs":
        return request.getfixturevalue("gs_url")
    name = f"ckptgui-tf-{next(_buckets)}"
    emulators.create_s3_bucket(request.getfixturevalue("s3_emulator"), name)
    return f"s3://{name}"
