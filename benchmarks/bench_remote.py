"""Benchmark for issue 15: what a model_dir in a bucket costs, in requests and time, against the emulators.

Starts fake-gcs-server (gs://) and moto (s3://) on free loopback ports (tests/emulators.py; the test extra
installs them), uploads the committed Estimator fixture (3 checkpoints, events in ``.`` and ``eval/``) to each and
counts the HTTP requests each reader sends (gcsfs ``_call``, s3fs ``_call_s3``), with its wall time:

* ``inspect``: scan + variables + global step of the restore checkpoint; ``verify``: every tensor's CRC;
* ``scalars``: the first read of every run, then an idle poll;
* the live view's look (``take_snapshot``): the first, an idle one, and the one after a new checkpoint
  appears, whose delay is measured while looking every ``--interval`` seconds.

Budget (exit 1 when over): an idle poll and an idle look cost at most 1 request each, and a checkpoint uploaded
while the view looks every ``--interval`` seconds shows within ``--interval`` + 1 s.

Run: ``.venv/bin/python benchmarks/bench_remote.py [--interval 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import emulators  # noqa: E402

from ckptgui.formats.events import ScalarReader  # noqa: E402
from ckptgui.modeldir.records import LedgerReader  # noqa: E402
from ckptgui.modeldir.scan import scan  # noqa: E402
from ckptgui.modeldir.snapshot import take_snapshot  # noqa: E402
from ckptgui.modeldir.variables import global_step, list_variables  # noqa: E402
from ckptgui.modeldir.verify import verify  # noqa: E402
from ckptgui.storage import RemoteStorage, storage_for  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "estimator_dnn_iris"


class Requests:
    """Counts the HTTP requests of one storage's client."""

    def __init__(self, remote: RemoteStorage) -> None:
        self.count = 0
        name = "_call" if hasattr(type(remote.fs), "_call") else "_call_s3"
        original = getattr(remote.fs, name)

        async def counting(*args, **kwargs):
            self.count += 1
            return await original(*args, **kwargs)

        setattr(remote.fs, name, counting)

    def measure(self, label: str, action) -> object:
        before, started = self.count, time.perf_counter()
        result = action()
        print(f"  {label:<34} {self.count - before:>4} requests  {(time.perf_counter() - started) * 1000:8.1f} ms")
        return result, self.count - before


def bench(url: str, interval: float) -> list[str]:
    over: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / "model"
        shutil.copytree(FIXTURE, local)
        newest = {path.name: path.read_bytes() for path in sorted(local.glob("model.ckpt-200.*"))}
        emulators.upload(local, url)
        for name in newest:
            storage_for(url).delete(f"{url}/{name}")
    requests = Requests(storage_for(url))

    def inspect() -> None:
        checkpoint = scan(url).restore_checkpoint
        list_variables(checkpoint)
        global_step(checkpoint)

    requests.measure("inspect (scan, variables, step)", inspect)
    requests.measure("verify (every tensor's CRC)", lambda: verify(url))
    reader = ScalarReader(url)
    requests.measure("scalars: first read", reader.poll)
    _, idle = requests.measure("scalars: idle poll", reader.poll)
    if idle > 1:
        over.append(f"{url}: an idle scalars poll sent {idle} requests")
    ledger = LedgerReader(url)
    (first, _) = requests.measure("look: first", lambda: take_snapshot(url, None, ledger))
    _, idle = requests.measure("look: idle", lambda: take_snapshot(url, first.files, ledger))
    if idle > 1:
        over.append(f"{url}: an idle look sent {idle} requests")

    uploaded_at: list[float] = []

    def upload_newest() -> None:
        time.sleep(interval / 3)
        for name in sorted(newest, key=lambda name: name.endswith(".index")):  # data first, index last
            storage_for(url).write_atomic(f"{url}/{name}", newest[name])
        uploaded_at.append(time.monotonic())

    writer = threading.Thread(target=upload_newest)
    writer.start()
    previous, shown_at = first.files, None
    while shown_at is None:
        time.sleep(interval)
        look = take_snapshot(url, previous, ledger)
        if look is not None:
            previous = look.files
            if look.info is not None and look.info.checkpoint(200).status == "ok":
                shown_at = time.monotonic()
    writer.join()
    delay = shown_at - uploaded_at[0]
    print(f"  {'new checkpoint shown after':<34} {delay:8.2f} s (looking every {interval:g} s)")
    if delay > interval + 1:
        over.append(f"{url}: a new checkpoint showed {delay:.2f} s after its upload")
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between looks (the window's default)")
    args = parser.parse_args()
    over: list[str] = []
    with (
        emulators.running(emulators.fake_gcs_server(), emulators.GCS_ENVIRONMENT) as gcs,
        emulators.running(emulators.moto_server(), emulators.S3_ENVIRONMENT) as s3,
    ):
        os.environ["STORAGE_EMULATOR_HOST"] = gcs.endpoint
        os.environ["AWS_ENDPOINT_URL"] = s3.endpoint
        emulators.create_gcs_bucket(gcs.endpoint, "bench")
        emulators.create_s3_bucket(s3.endpoint, "bench")
        for url in ("gs://bench/model", "s3://bench/model"):
            print(url)
            over += bench(url, args.interval)
    for line in over:
        print(f"OVER BUDGET: {line}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
