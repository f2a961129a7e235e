"""The ``checkpoint`` state file (a ``CheckpointState`` text proto), read and written without TensorFlow.

TensorFlow's ``get_checkpoint_state`` reads what :func:`write_state` writes;
parsing by hand keeps the directory view and the inspector free of the
TensorFlow import and tolerant of damage (a garbled file raises
:class:`StateFileError` with the line at fault instead of a ``ParseError``).
The file is read and replaced through :mod:`ckptgui.storage`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ckptgui.storage import storage_for

STATE_FILENAME = "checkpoint"
_LINE = re.compile(r'^\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([-+0-9.eE]+|inf|nan))\s*$')


class StateFileError(ValueError):
    """The state file exists but cannot be parsed."""


@dataclass
class CheckpointState:
    """``model_checkpoint_path`` is the latest; paths are as written (usually relative to the directory)."""

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = field(default_factory=list)
    last_preserved_timestamp: float | None = None


_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")  # C:\..., C:/..., \\server\share


def checkpoint_name(path: str) -> tuple[str, bool]:
    """(the checkpoint's file name, whether the path is absolute) of a path as a state file holds it.

    A state file written on Windows holds ``C:\\Users\\...\\model.ckpt-400``: its name is the part after the
    last backslash, and it is absolute like ``/home/other/model.ckpt-400``, wherever the folder is read.
    """
    if _WINDOWS_ABSOLUTE.match(path):
        return re.split(r"[\\/]", path)[-1], True
    absolute = path.startswith("/") or "://" in path
    return path.rstrip("/").rsplit("/", 1)[-1], absolute


def _unescape(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def parse_state(text: str) -> CheckpointState:
    state = CheckpointState()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise StateFileError(f"line {number}: cannot parse {line.strip()[:80]!r}")
        key, string, number_text = match.groups()
        if key == "model_checkpoint_path" and string is not None:
            state.model_checkpoint_path = _unescape(string)
        elif key == "all_model_checkpoint_paths" and string is not None:
            state.all_model_checkpoint_paths.append(_unescape(string))
        elif key == "all_model_checkpoint_timestamps" and number_text is not None:
            state.all_model_checkpoint_timestamps.append(float(number_text))
        elif key == "last_preserved_timestamp" and number_text is not None:
            state.last_preserved_timestamp = float(number_text)
        else:
            raise StateFileError(f"line {number}: unknown field {key!r}")
    if not state.model_checkpoint_path:
        raise StateFileError("no model_checkpoint_path")
    return state


def read_state(directory: str | os.PathLike) -> CheckpointState | None:
    """The directory's state, or None when it has no ``checkpoint`` file. Raises StateFileError when damaged."""
    storage = storage_for(directory)
    try:
        text = storage.read(storage.join(directory, STATE_FILENAME)).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise StateFileError("not UTF-8 text") from None
    return parse_state(text)


def format_state(state: CheckpointState) -> str:
    lines = [f'model_checkpoint_path: "{_escape(state.model_checkpoint_path)}"']
    lines += [f'all_model_checkpoint_paths: "{_escape(p)}"' for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    if state.last_preserved_timestamp is not None:
        lines.append(f"last_preserved_timestamp: {state.last_preserved_timestamp!r}")
    return "\n".join(lines) + "\n"


def write_state(directory: str | os.PathLike, state: CheckpointState) -> None:
    """Replace the state file atomically: a reader (TensorFlow's too) sees the old list or the new, never half."""
    storage = storage_for(directory)
    storage.write_atomic(storage.join(directory, STATE_FILENAME), format_state(state).encode("utf-8"))
