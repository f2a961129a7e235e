"""Benchmark for issue 6: start-to-window time of the frozen bundle vs a virtual-environment install.

What is timed: from spawning ``ckptgui`` (no arguments: the window, fresh settings in a temporary HOME)
until its main window is mapped and viewable on an X server (Xvfb), polled with ``xdotool search
--onlyvisible`` every 10 ms. The same poll times both programs, so the ratio is fair; the window paints
right after it is mapped. Each program gets one warm-up start (page cache), then ``--runs`` starts,
interleaved; the medians are printed with their ratio, and the size on disk of each install.

Needs Debian's xvfb and xdotool (``apt-get install xvfb xdotool``) and a built bundle
(``packaging/build_linux.sh``).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--frozen dist/ckptgui/ckptgui] [--venv .venv] [--runs 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.01
TIMEOUT_S = 120.0


@contextmanager
def xvfb():
    """A private X server; yields its DISPLAY value."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = f":{pipe.readline().strip()}"
    try:
        yield display
    finally:
        server.terminate()
        server.wait(10)


def window_visible(display: str, pid: int) -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--pid", str(pid), "--name", "ckptgui"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        check=False,
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def start_to_window(program: Path, display: str) -> float:
    """Seconds from spawn to the main window being viewable."""
    with tempfile.TemporaryDirectory(prefix="ckptgui-bench-home-") as home:
        env = {
            **os.environ,
            "DISPLAY": display,
            "QT_QPA_PLATFORM": "xcb",
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/.config",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        log = Path(home) / "output.txt"
        started = time.perf_counter()
        with log.open("wb") as sink:
            process = subprocess.Popen([str(program)], env=env, cwd=home, stdout=sink, stderr=subprocess.STDOUT)
        try:
            while not window_visible(display, process.pid):
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(
                        f"{program} exited with status {process.returncode} before its window showed:\n{tail}"
                    )
                if time.perf_counter() - started > TIMEOUT_S:
                    raise RuntimeError(f"{program} showed no window in {TIMEOUT_S:.0f} s")
                time.sleep(POLL_S)
            return time.perf_counter() - started
        finally:
            process.kill()
            process.wait()


def size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frozen", type=Path, default=ROOT / "dist" / "ckptgui" / "ckptgui")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="a venv with ckptgui installed")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    venv_program = args.venv / "bin" / "ckptgui"
    for needed in ("Xvfb", "xdotool"):
        if shutil.which(needed) is None:
            sys.exit(f"bench_startup: {needed} is not installed (apt-get install xvfb xdotool)")
    for program in (args.frozen, venv_program):
        if not program.is_file():
            sys.exit(f"bench_startup: {program} does not exist (build the bundle / create the venv first)")

    programs = {"frozen": args.frozen, "venv": venv_program}
    times: dict[str, list[float]] = {name: [] for name in programs}
    with xvfb() as display:
        for program in programs.values():
            start_to_window(program, display)  # warm-up: page cache, font cache
        for _ in range(args.runs):
            for name, program in programs.items():
                times[name].append(start_to_window(program, display))

    frozen, venv = statistics.median(times["frozen"]), statistics.median(times["venv"])
    for name in programs:
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:>6}: start-to-window median {statistics.median(times[name]):.2f} s  (runs: {runs})")
    print(f"frozen / venv start-to-window: {frozen / venv:.2f}x")
    print(f"size on disk: bundle {size_mib(args.frozen.parent):.0f} MiB, venv {size_mib(args.venv):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
