"""A fact asked of Graph once per process: our page, our app id."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import GraphError

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0


class Once:
    """Asks once, keeps the answer; after a failure asks again only every RETRY_SECONDS, and
    never from two threads at once (a burst of messages must not become a burst of lookups).
    Nobody waits longer than they said they could: a caller that cannot have the answer in
    time goes on without it (None), and the asking caller asks with its own time."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.value: Any = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, ask: Callable[[float], Any], wait: float) -> Any:
        """The value, asking `ask(seconds)` for it when it is not known and may be asked now;
        `wait`: the most this caller may spend, waiting for another's lookup or its own."""
        if wait <= 0:  # no time to ask: what is known (a 0-second ask would only fail)
            return self.value
        if self.value is None and self._may_ask() and self._lock.acquire(timeout=wait):
            try:
                if self.value is None and self._may_ask():
                    try:
                        self.value = ask(wait) or None
                    except (GraphError, KeyError, TypeError, AttributeError) as exc:
                        self._failed_at = time.monotonic()
                        log.warning("could not learn %s: %s", self.what, exc)
            finally:
                self._lock.release()
        return self.value

    def _may_ask(self) -> bool:
        return time.monotonic() - self._failed_at > RETRY_SECONDS
