"""What the window remembers between runs, kept in QSettings.

The organization and application names come from the QApplication (set in
``app.py``); tests point QSettings at a temporary folder so they never read or
write the user's real settings.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings

from ckptgui.modeldir.config import ConfigError, RunSpec
from ckptgui.workspace.model import normalize_model_dir

MAX_RECENT = 10


class Settings:
    """Typed access to the few keys the window stores."""

    def __init__(self) -> None:
        self._store = QSettings()

    def sync(self) -> None:
        self._store.sync()

    # Recent model_dirs --------------------------------------------------------------------------
    def recent_dirs(self) -> list[str]:
        value = self._store.value("recent/dirs", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or [] if v]

    def add_recent_dir(self, path: str) -> list[str]:
        path = normalize_model_dir(path) or path
        dirs = [path, *(d for d in self.recent_dirs() if d != path)][:MAX_RECENT]
        self._store.setValue("recent/dirs", dirs)
        return dirs

    def clear_recent_dirs(self) -> None:
        self._store.setValue("recent/dirs", [])

    # Last config (without model_dir: a temporary one from last time is no place to resume) ---------
    def last_spec(self) -> RunSpec | None:
        text = self._store.value("config/last", "")
        if not text:
            return None
        try:
            return RunSpec.from_json(str(text))
        except (ConfigError, TypeError):
            return None  # a config an older version wrote: start from the defaults

    def set_last_spec(self, spec: RunSpec) -> None:
        data = spec.to_dict()
        data["model_dir"] = None
        self._store.setValue("config/last", json.dumps(data))

    # Window layout -------------------------------------------------------------------------------
    def layout(self, key: str) -> QByteArray | None:
        value = self._store.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_layout(self, key: str, state: QByteArray) -> None:
        self._store.setValue(f"layout/{key}", state)

    # Plot preferences ----------------------------------------------------------------------------
    def value(self, key: str, default: object) -> object:
        value = self._store.value(f"prefs/{key}", default)
        if isinstance(default, bool):
            return value in (True, "true", "1", 1)
        if isinstance(default, int | float) and not isinstance(value, int | float):
            try:
                return type(default)(value)
            except (TypeError, ValueError):
                return default
        return value

    def set_value(self, key: str, value: object) -> None:
        self._store.setValue(f"prefs/{key}", value)
