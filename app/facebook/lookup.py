"""A fact asked of Graph once per process: our page, our app id."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .errors import GraphError

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0


class Once:
    """Asks once, keeps the answer; after a failure asks again only every RETRY_SECONDS, and
    never from two threads at once (a burst of messages must not become a burst of lookups)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.value: str | None = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, ask: Callable[[], str]) -> str | None:
        """The value, asking `ask()` for it when it is not known and may be asked now."""
        if self.value is None and self._may_ask():
            with self._lock:
                if self.value is None and self._may_ask():
                    try:
                        self.value = ask() or None
                    except (GraphError, KeyError, TypeError, AttributeError) as exc:
                        self._failed_at = time.monotonic()
                        log.warning("could not learn %s: %s", self.what, exc)
        return self.value

    def _may_ask(self) -> bool:
        return time.monotonic() - self._failed_at > RETRY_SECONDS
