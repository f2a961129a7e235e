"""Hostile files in a model_dir (issue 12, points 6-8): forged ``.index`` entries, FIFOs, absurd sizes.

Each reader must name what is wrong and go on: a forged entry never reaches TensorFlow (whose reader aborts the
whole process on one), a FIFO is never opened, no size written in a file is trusted. Commands that would touch
TensorFlow run in a subprocess and their exit status is asserted; peak memory is measured per process
(``ru_maxrss``) and printed (``pytest -s -m reliability``): the README's Reliability table quotes it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from checkpoint_dirs import ESTIMATOR
from forged_index import as_proto, entry_proto, forge

from ckptgui.formats.bundle import MAX_INDEX_BYTES, parse_index
from ckptgui.modeldir.scan import scan
from ckptgui.modeldir.verify import verify

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
STEP = 200
TARGET = "dnn/logits/bias"  # float32 [3]
PEAK_RSS_LIMIT = 200 << 20  # the most any reader may grow on any input


def forged_copy(tmp_path: Path, **changes: object) -> Path:
    """A copy of the Estimator fixture whose step-200 index has ``TARGET``'s entry rewritten with ``changes``
    (dtype, shape, offset, size); every other entry is as TensorFlow wrote it."""
    model_dir = tmp_path / "model"
    shutil.copytree(ESTIMATOR, model_dir)
    prefix = model_dir / f"model.ckpt-{STEP}"
    index = parse_index(Path(f"{prefix}.index").read_bytes())
    protos = {key: as_proto(entry) for key, entry in index.entries.items()}
    target = index.entries[TARGET]
    fields = {"dtype": target.dtype, "shape": target.shape, "offset": target.offset, "size": target.size}
    fields.update(changes)
    protos[TARGET] = entry_proto(crc=target.crc32c, **fields)  # type: ignore[arg-type]
    forge(prefix, protos, index.num_shards)
    return model_dir


FORGED = {
    "unknown dtype 99": ({"dtype": 99}, r"unknown dtype \(99\)"),
    "negative dimension": ({"shape": (-3,)}, r"negative dimension: \[-3\]"),
    "200,000 dimensions": ({"shape": (1,) * 200_000}, "200,000 dimensions"),
    "2^40 x 2^40 shape": ({"shape": (1 << 40, 1 << 40)}, "impossible shape"),
    "size not the shape's": ({"size": 8}, r"the index gives 8 bytes for a float32 tensor of shape \[3\]"),
    "offset past the shard": ({"offset": 1 << 30}, "is truncated: .* bytes, the index needs"),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_a_forged_entry_makes_the_checkpoint_corrupt_with_the_reason(tmp_path: Path, case: str) -> None:
    changes, reason = FORGED[case]
    model_dir = forged_copy(tmp_path, **changes)
    for checkpoints in (scan(model_dir).checkpoints, verify(model_dir)):
        by_step = {c.step: c for c in checkpoints}
        assert by_step[STEP].status == "corrupt", by_step[STEP]
        assert re.search(reason, by_step[STEP].reason), by_step[STEP].reason
        assert by_step[100].status == "ok"


def ckptgui(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "ckptgui", *argv], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", ["unknown dtype 99", "negative dimension", "2^40 x 2^40 shape"])
def test_forged_entries_never_reach_tensorflow(tmp_path: Path, case: str) -> None:
    """``verify``, ``eval`` and ``predict`` (the window's Restore loads the same way) refuse the checkpoint with
    the reason; TensorFlow's reader, which aborts the process on such an entry (rc 134), never sees it."""
    changes, reason = FORGED[case]
    model_dir = forged_copy(tmp_path, **changes)
    target = f"{model_dir}@{STEP}"
    verified = ckptgui("verify", str(model_dir))
    assert verified.returncode == 1, verified.stderr
    assert re.search(reason, verified.stdout + verified.stderr)
    for argv in (["eval", target, "--data", "iris"], ["predict", target, "--features", "5.1,3.5,1.4,0.2"]):
        done = ckptgui(*argv)
        assert done.returncode == 2, (argv, done.returncode, done.stderr[-2000:])
        assert "corrupt" in done.stderr and re.search(reason, done.stderr), done.stderr


# FIFOs and other files that are not regular -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_like_a_checkpoint_file_is_never_opened(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(ESTIMATOR, model_dir)
    os.mkfifo(model_dir / "model.ckpt-9.index")
    os.mkfifo(model_dir / "model.ckpt-9.data-00000-of-00001")
    os.mkfifo(model_dir / "events.out.tfevents.9.fifo")
    by_step = {c.step: c for c in scan(model_dir).checkpoints}
    assert by_step[9].status == "corrupt"
    assert "not a regular file" in by_step[9].reason
    assert by_step[200].status == "ok"
    inspected = ckptgui("inspect", str(model_dir), "--json", timeout=60)
    assert inspected.returncode == 0, inspected.stderr
    rows = {c["step"]: c for c in json.loads(inspected.stdout)["checkpoints"]}
    assert "not a regular file" in rows[9]["reason"]
    verified = ckptgui("verify", str(model_dir), timeout=60)
    assert verified.returncode == 1 and "not a regular file" in verified.stdout + verified.stderr
    cleaned = ckptgui("clean", str(model_dir), timeout=60)
    assert cleaned.returncode in (0, 1), cleaned.stderr
    scalars = ckptgui("scalars", str(model_dir / "events.out.tfevents.9.fifo"), timeout=60)
    assert "events.out.tfevents.9.fifo: not a regular file" in scalars.stderr, scalars  # named, not waited on
    assert scalars.returncode == 2  # bad input, as a path that is not there
    evaluated = ckptgui("eval", f"{model_dir}@200", "--data", "iris", timeout=120)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]


# Sizes written in a file are never trusted: peak memory -------------------------------------------------------

MEASURE = """
import json, resource, sys
from ckptgui.cli import main
import ckptgui.commands.inspect  # noqa: F401 - the command's modules, loaded before the baseline
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "growth_kb": peak - baseline}))
"""


def peak_growth(*argv: str) -> tuple[int, int]:
    """(exit status, growth of the peak RSS in bytes) of one ckptgui command in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["growth_kb"] * 1024


def _global_step_claiming(tmp_path: Path, size: int) -> Path:
    """``global_step`` (int64 scalar) whose entry claims ``size`` bytes, its data shard (sparse) that long."""
    model_dir = tmp_path / "model"
    shutil.copytree(ESTIMATOR, model_dir)
    prefix = model_dir / f"model.ckpt-{STEP}"
    index = parse_index(Path(f"{prefix}.index").read_bytes())
    protos = {key: as_proto(entry) for key, entry in index.entries.items()}
    step = index.entries["global_step"]
    protos["global_step"] = entry_proto("int64", (), step.offset, size, step.crc32c)
    forge(prefix, protos)
    with open(f"{prefix}.data-00000-of-00001", "r+b") as shard:
        shard.truncate(step.offset + size)  # sparse: the offsets are within the shard
    return model_dir


def _huge_index(tmp_path: Path, size: int) -> Path:
    model_dir = tmp_path / "model"
    shutil.copytree(ESTIMATOR, model_dir)
    with open(model_dir / "other-5.index", "wb") as index:
        index.truncate(size)  # sparse
    return model_dir


HOSTILE = {
    "3 GiB .index": lambda tmp: (_huge_index(tmp, 3 << 30), "larger than 16 MiB"),
    "global_step claims 4 GiB": lambda tmp: (_global_step_claiming(tmp, 4 << 30), "the index gives 4294967296 bytes"),
    "2^40 x 2^40 shape": lambda tmp: (forged_copy(tmp, shape=(1 << 40, 1 << 40)), "impossible shape"),
    "200,000 dimensions": lambda tmp: (forged_copy(tmp, shape=(1,) * 200_000), "200,000 dimensions"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_inspect_of_a_hostile_file_stays_within_its_memory_bound(tmp_path: Path, case: str) -> None:
    model_dir, reason = HOSTILE[case](tmp_path)
    code, healthy = peak_growth("inspect", str(ESTIMATOR), "--json")
    assert code == 0
    code, growth = peak_growth("inspect", str(model_dir), "--json")
    print(f"\npeak RSS growth of inspect: {case}: {growth / 1e6:.1f} MB (healthy model_dir: {healthy / 1e6:.1f} MB)")
    assert code == 0
    assert growth <= PEAK_RSS_LIMIT, f"{growth / 1e6:.0f} MB"
    rows = scan(model_dir).checkpoints
    assert any(c.status == "corrupt" and reason in c.reason for c in rows), [c.reason for c in rows]


def test_an_index_over_the_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = _huge_index(tmp_path, MAX_INDEX_BYTES + 1)
    from ckptgui.storage import LOCAL

    read = LOCAL.read
    monkeypatch.setattr(
        LOCAL, "read", lambda path, *a: pytest.fail("read") if str(path).endswith("other-5.index") else read(path, *a)
    )
    (other,) = [c for c in scan(model_dir).checkpoints if c.prefix.endswith("other-5")]
    assert other.status == "corrupt"
    assert other.reason == (
        f"the .index file is larger than 16 MiB ({MAX_INDEX_BYTES + 1:,} bytes), the most an index may take: not read"
    )
