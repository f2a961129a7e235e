"""What ckptgui records in a model_dir: the typed run log, the ledger of checkpoints it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ckptgui.modeldir.config import NetworkConfig, RunSpec
from ckptgui.modeldir.records import (
    LEDGER_FILENAME,
    RUN_FILENAME,
    LedgerReader,
    RunLog,
    read_run_log,
    read_written,
    record_written,
    write_run_log,
)


def test_incremental_reads_match_a_whole_read_as_the_ledger_grows(tmp_path: Path):
    reader = LedgerReader(tmp_path)
    assert reader.read() == {}  # no ledger yet
    for step in range(0, 5000, 100):
        record_written(tmp_path, step, {"accuracy": step / 5000, "loss": 1 / (step + 1)})
        if step % 700 == 0:
            assert reader.read() == read_written(tmp_path)[1]
    assert reader.read() == read_written(tmp_path)[1]
    assert set(reader.read()) == set(range(0, 5000, 100))


def test_a_torn_last_line_waits_for_its_newline(tmp_path: Path):
    ledger = tmp_path / LEDGER_FILENAME
    ledger.write_text("100 accuracy=0.5\n200 accur")
    reader = LedgerReader(tmp_path)
    assert reader.read() == {100: {"accuracy": 0.5}}
    with open(ledger, "a") as handle:
        handle.write("acy=0.75\n")
    assert reader.read() == {100: {"accuracy": 0.5}, 200: {"accuracy": 0.75}}


def test_a_replaced_or_shortened_ledger_is_read_again_from_the_start(tmp_path: Path):
    ledger = tmp_path / LEDGER_FILENAME
    ledger.write_text("100\n200\n300\n")
    reader = LedgerReader(tmp_path)
    assert set(reader.read()) == {100, 200, 300}
    replacement = tmp_path / "new.txt"
    replacement.write_text("400\n")
    os.replace(replacement, ledger)  # a new file (another inode)
    assert set(reader.read()) == {400}
    ledger.write_text("")  # same file, shortened
    assert reader.read() == {}
    ledger.unlink()
    assert reader.read() == {}


def test_a_ledger_replaced_by_a_longer_one_is_read_again_from_the_start(tmp_path: Path):
    ledger = tmp_path / LEDGER_FILENAME
    ledger.write_text("100\n200\n")
    reader = LedgerReader(tmp_path)
    assert set(reader.read()) == {100, 200}
    replacement = tmp_path / "new.txt"
    replacement.write_text("300\n400\n500\n600\n")
    os.replace(replacement, ledger)  # longer than the old one: only its content tells
    assert set(reader.read()) == {300, 400, 500, 600}
    assert reader.read() == read_written(tmp_path)[1]


def test_the_run_log_gives_its_spec_typed_or_says_why_not(tmp_path):
    spec = RunSpec(network=NetworkConfig(hidden_units=[20, 20]), model_dir=str(tmp_path), seed=3)
    write_run_log(tmp_path, RunLog(spec=spec))
    assert json.loads((tmp_path / RUN_FILENAME).read_text())["spec"]["network"]["hidden_units"] == [20, 20]
    assert read_run_log(tmp_path).spec == spec
    raw = json.loads((tmp_path / RUN_FILENAME).read_text())
    raw["spec"]["network"]["hidden_units"] = "wide"
    (tmp_path / RUN_FILENAME).write_text(json.dumps(raw))
    damaged = read_run_log(tmp_path)
    assert damaged.spec is None and "hidden_units" in damaged.spec_problem
