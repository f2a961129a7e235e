"""The training lock: one trainer per model_dir, released by the kernel when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ckptgui.modeldir.lock import LOCK_FILENAME, ModelDirLock, ModelDirLocked, lock_holder


def test_a_second_lock_is_refused_naming_the_holder_and_released_cleanly(tmp_path: Path):
    assert lock_holder(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # asking creates nothing
    with ModelDirLock(tmp_path):
        holder = lock_holder(tmp_path)
        assert holder is not None and holder.pid == os.getpid()
        with pytest.raises(ModelDirLocked, match=f"pid {os.getpid()} on "):
            ModelDirLock(tmp_path).acquire()
    assert lock_holder(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock
    with ModelDirLock(tmp_path):  # free again
        pass


def test_the_lock_dies_with_its_process_even_under_sigkill(tmp_path: Path):
    code = (
        "import sys, time\n"
        "from ckptgui.modeldir.lock import ModelDirLock\n"
        f"lock = ModelDirLock({str(tmp_path)!r})\n"
        "lock.acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        found = lock_holder(tmp_path)
        assert found is not None and found.pid == holder.pid
        with pytest.raises(ModelDirLocked, match=f"pid {holder.pid}"):
            ModelDirLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (tmp_path / LOCK_FILENAME).exists()  # left behind by the killed holder, and means nothing
    assert lock_holder(tmp_path) is None
    with ModelDirLock(tmp_path):
        assert lock_holder(tmp_path).pid == os.getpid()
