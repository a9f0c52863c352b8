"""One time budget per webhook request, shared by every upstream call it makes."""

from __future__ import annotations

import time


class Deadline:
    """A point in monotonic time; callers ask how much of the budget is left."""

    def __init__(self, seconds: float, *, clock=time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._ends = self._started + seconds

    def elapsed(self) -> float:
        """Seconds since the budget started (the webhook's receipt)."""
        return self._clock() - self._started

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._ends - self._clock())

    def cap(self, seconds: float) -> float:
        """A timeout of at most `seconds` that still ends inside the budget."""
        return min(seconds, self.remaining())

    def minus(self, seconds: float) -> Deadline:
        """A deadline that ends `seconds` earlier: time kept back for a later step."""
        earlier = Deadline(0, clock=self._clock)
        earlier._started = self._started
        earlier._ends = self._ends - seconds
        return earlier
