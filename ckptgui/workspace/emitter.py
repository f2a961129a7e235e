"""A minimal event: connect, disconnect, emit; callbacks run at once, on the emitting thread, in connection order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Emitter:
    """Calls every connected callback with the emitted arguments.

    No queueing and no thread hopping: the workspace is changed on the GUI
    thread only (the gui layer turns worker results into workspace updates
    there), so its observers run on that thread too.
    """

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback`` at every emit; returns it, so this also works as a decorator."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback``; raises ValueError when it is not connected."""
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in tuple(self._callbacks):  # a callback may disconnect itself
            callback(*args)
