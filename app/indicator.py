"""The typing indicator, only for a model that takes a while.

A model that answers within TYPING_AFTER_SECONDS (a setting, 1.5 s by default) needs no "…"
(the person barely waited), and skipping the indicator saves a Graph call per message — the
cost that queues a burst on a small host.
One clock thread per process waits for each indicator's moment; a reply that is ready first
cancels its indicator, and one already on its way is let finish first, so that it never
arrives after the reply. The indicators that come due go out through TYPING_SENDERS threads:
an indicator is worth a Graph call only while its reply is not there, and under a burst more
senders would take the host's CPU from the replies themselves. One that waits for a sender
until its reply is ready is never sent.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

TYPING_SECONDS = 1.0  # a typing indicator later than this is not worth showing
# Each sender makes 10-20 indicators a second (a Graph call of 50-100 ms): far more than a
# page's people wait on a slow model at once, and few enough not to crowd out replies
# (docs/benchmark-cost.md).
TYPING_SENDERS = 2


class Indicator:
    """One reply's indicator: due at a moment, unless the reply comes first."""

    def __init__(self) -> None:
        self.cancelled = False
        self.future: Future | None = None

    def cancel(self) -> None:
        """The model answered: no indicator from now on (one under way still goes out)."""
        self.cancelled = True

    def stop(self) -> None:
        """The reply is ready: no indicator now, and one under way finishes first."""
        self.cancel()
        if self.future is not None and not self.future.cancel():
            wait([self.future], timeout=TYPING_SECONDS)


class Typing:
    """Shows the indicator TYPING_AFTER_SECONDS after a reply started, if it is still going."""

    def __init__(self, send: Callable[..., None], after: float) -> None:
        self.send = send
        self.after = after
        self._due: list[tuple[float, int, Indicator, tuple]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(TYPING_SENDERS, thread_name_prefix="typing")
        self._clock_pid: int | None = None

    def start(self, *args) -> Indicator:
        """Schedule `send(*args)` for later; the caller stops it once the reply is ready."""
        indicator = Indicator()
        with self._changed:
            if self._clock_pid != os.getpid():  # a gunicorn worker forked after creation
                self._clock_pid = os.getpid()
                threading.Thread(target=self._run, daemon=True, name="typing-clock").start()
            due = time.monotonic() + self.after
            heapq.heappush(self._due, (due, next(self._order), indicator, args))
            if self._due[0][2] is indicator:  # else the clock wakes for an earlier one anyway
                self._changed.notify()
        return indicator

    def _run(self) -> None:
        """Hand each indicator that came due, and was not stopped, to the senders."""
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._changed.wait(timeout)
                _, _, indicator, args = heapq.heappop(self._due)
            if not indicator.cancelled:
                indicator.future = self._pool.submit(self._show, indicator, args)

    def _show(self, indicator: Indicator, args: tuple) -> None:
        """Send it, unless the reply came meanwhile."""
        if not indicator.cancelled:
            self.send(*args)
