"""cleanup.py: what an interrupted export leaves in MODEL_DIR/export/ is a leftover; finished exports are not."""

from __future__ import annotations

from pathlib import Path

from ckptgui.modeldir.cleanup import leftovers


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
