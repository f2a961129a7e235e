"""Benchmark for issue 12 point 10: the event reader on a file of zeros, against a plain read of the same file.

Writes a zero-filled ``events.out.tfevents.*`` file (sparse, ``--gib`` GiB, default 1) into a temporary
directory, reads it once plainly (16 MB chunks: the reference, page cache warm after it) and once with
``EventFileReader`` (which finds no record: every position is searched for a valid header), and prints both
times and the ratio reader/plain. Before the fix the reader took about 45 s on 1 GiB.

Run: ``.venv/bin/python benchmarks/bench_hostile.py [--gib 1]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ckptgui.formats.events.reader import EventFileReader
from ckptgui.storage import LOCAL

TARGET_S = 10.0  # per GiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the zero-filled file in GiB (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_hostile_") as tmp:
        path = Path(tmp) / "events.out.tfevents.1.zeros"
        with open(path, "wb") as handle:
            handle.truncate(int(args.gib * (1 << 30)))
        started = time.perf_counter()
        with open(path, "rb") as handle:
            while handle.read(16 << 20):
                pass
        plain = time.perf_counter() - started
        records = []
        started = time.perf_counter()
        skipped = EventFileReader(LOCAL, str(path)).read(
            LOCAL.info(path), lambda buf, offs, lens: records.append(len(offs))
        )
        ours = time.perf_counter() - started
    print(
        f"{args.gib:g} GiB of zeros: plain read {plain:6.2f} s, event reader {ours:6.2f} s "
        f"(ratio reader/plain {ours / plain:.1f}); records {sum(records)}, damaged headers counted {skipped}"
    )
    per_gib = ours / args.gib
    verdict = "OK" if per_gib <= TARGET_S else "OVER TARGET"
    print(f"target: at most {TARGET_S:.0f} s per GiB -> {per_gib:.2f} s per GiB: {verdict}")
    return 0 if per_gib <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
