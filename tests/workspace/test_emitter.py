"""The workspace's event: callbacks in connection order, at once; disconnect stops them."""

from __future__ import annotations

import pytest

from ckptgui.workspace.emitter import Emitter


def test_connect_emit_disconnect():
    emitter, calls = Emitter(), []
    first = emitter.connect(lambda value: calls.append(("first", value)))
    emitter.connect(lambda value: calls.append(("second", value)))
    emitter.emit(1)
    emitter.disconnect(first)
    emitter.emit(2)
    assert calls == [("first", 1), ("second", 1), ("second", 2)]
    with pytest.raises(ValueError, match="not in list"):
        emitter.disconnect(first)


def test_a_callback_may_disconnect_itself_while_emitting():
    emitter, calls = Emitter(), []

    def once(value: int) -> None:
        calls.append(value)
        emitter.disconnect(once)

    emitter.connect(once)
    emitter.emit(1)
    emitter.emit(2)
    assert calls == [1]
