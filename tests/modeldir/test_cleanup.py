"""cleanup.py: what an interrupted export leaves in MODEL_DIR/export/ is a leftover; finished exports are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ckptgui.modeldir.cleanup import TEMP_LINK_WHY, TEMP_WHY, leftovers


def test_an_interrupted_exports_staging_folder_is_a_leftover(tmp_path: Path) -> None:
    exports = tmp_path / "export"
    (exports / ".ckptgui-export-k2j4x" / "model" / "variables").mkdir(parents=True)
    (exports / "1796158626" / "variables").mkdir(parents=True)  # a finished export
    (exports / "1796158627.keras").write_bytes(b"PK")
    assert leftovers(tmp_path) == [
        (str(exports / ".ckptgui-export-k2j4x"), "staging folder of an interrupted export"),
    ]


def test_no_export_folder_no_leftover(tmp_path: Path) -> None:
    (tmp_path / "export").write_text("a file of the user's, not our folder")
    assert leftovers(tmp_path) == []


def test_only_a_checkpoint_saves_temp_folder_is_a_leftover(tmp_path: Path) -> None:
    """A user's ``export_temp/results.csv`` is not a crash leftover; ``model.ckpt-25_temp`` of SaveV2 shards is."""
    (tmp_path / "export_temp").mkdir()
    (tmp_path / "export_temp" / "results.csv").write_text("a,b\n")
    (tmp_path / "model.ckpt-30_temp").mkdir()
    (tmp_path / "model.ckpt-30_temp" / "notes.txt").write_text("not what a save writes")
    save = tmp_path / "model.ckpt-25_temp"
    save.mkdir()
    (save / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 8)
    (save / "part-00000-of-00001.index").write_bytes(b"\0" * 8)
    assert leftovers(tmp_path) == [(str(save), TEMP_WHY)]


def test_a_temp_named_link_is_removed_as_a_link_and_clean_goes_on(tmp_path: Path, capsys) -> None:
    from ckptgui.cli import main

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    (model_dir / "model.ckpt-5_temp").symlink_to(outside, target_is_directory=True)
    stale = model_dir / "model.ckpt-7_temp"
    stale.mkdir()
    (stale / "part-00000-of-00001.index").write_bytes(b"")
    assert [why for _, why in leftovers(model_dir)] == [TEMP_LINK_WHY, TEMP_WHY]
    assert main(["clean", str(model_dir), "--yes"]) == 0
    assert (outside / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in model_dir.iterdir()) == []
    assert "removing model.ckpt-5_temp" in capsys.readouterr().out


def test_a_checkpoint_that_cannot_be_opened_is_not_called_damaged(tmp_path: Path) -> None:
    """Unreadable is not corrupt: a healthy foreign checkpoint the user cannot read stays (EACCES here: root
    reads any file, so the check runs without the capability that lets it)."""
    index = tmp_path / "other-5.index"
    index.write_bytes(b"\0" * 40)  # damaged, but readable: a leftover
    assert [Path(p).name for p, _ in leftovers(tmp_path)] == ["other-5.index"]
    index.chmod(0)
    if os.geteuid() == 0:
        code = f"import sys; from ckptgui.modeldir.cleanup import leftovers; print(len(leftovers({str(tmp_path)!r})))"
        caps = "-dac_override,-dac_read_search"
        out = subprocess.run(
            ["setpriv", "--bounding-set", caps, "--inh-caps", caps, "--", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == "0"
    else:
        assert leftovers(tmp_path) == []
