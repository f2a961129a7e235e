"""How often the window looks at a model_dir in a bucket: every 5 s, backing off to 30 s while nothing changes.

A local model_dir is watched by the file system and looked at every second, which costs a few ``stat`` calls. A
look at a bucket is a request (one recursive listing when nothing changed, see ``modeldir/snapshot.py``), billed
and slower, and nothing notifies of changes: so the interval starts at :data:`FIRST_S`, doubles after each look
that found nothing new, up to :data:`MOST_S`, and falls back to :data:`FIRST_S` at the first change.
"""

from __future__ import annotations

FIRST_S = 5.0
MOST_S = 30.0


class Backoff:
    """The interval until the next look, from what the looks found."""

    def __init__(self, first_s: float = FIRST_S, most_s: float = MOST_S) -> None:
        self.first_s = first_s
        self.most_s = most_s
        self.interval_s = first_s

    def looked(self, changed: bool) -> float:
        """Record a look's outcome; returns the interval until the next one."""
        self.interval_s = self.first_s if changed else min(self.most_s, self.interval_s * 2)
        return self.interval_s
