"""How often a model_dir in a bucket is looked at: 5 s, doubling to 30 s while nothing changes."""

from __future__ import annotations

from ckptgui.workspace.polling import FIRST_S, MOST_S, Backoff


def test_idle_looks_back_off_to_the_ceiling_and_a_change_comes_back_at_once():
    backoff = Backoff()
    assert backoff.interval_s == FIRST_S == 5.0
    assert [backoff.looked(changed=False) for _ in range(4)] == [10.0, 20.0, MOST_S, MOST_S] and MOST_S == 30.0
    assert backoff.looked(changed=True) == FIRST_S
    assert backoff.looked(changed=False) == 10.0
