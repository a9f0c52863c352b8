"""When a Graph call is tried again: the one place that decides it.

The HTTP adapter makes no retries of its own (urllib3's `Retry` sees status codes only, and
Graph's meaning is in the body: throttling arrives as HTTP 400 with code 613, a hiccup as 500
with code 1 or 2). Each call kind has one policy:

- read (operator reads: the page, its profile): 2 tries, again after no connection or a
  dropped one, a 5xx without a code, or codes 1, 2; pause 0.3 s.
- history (the Conversations API): 1 try. Meta counts every call against its 2 per second
  per page, and the store's allowance granted one: a failed read is skipped, and the
  conversation is filled on a later message.
- send: 3 tries, again only when it provably did not go out: never connected, or Graph
  refused it with a transient code (1, 2, or throttling); pauses 0.3 s, 0.6 s.
- sender action (typing): 1 try; a typing indicator is not worth a wait.

A read is never repeated after a timeout (the time is spent) nor into throttling (codes 4, 17,
32, 613, 80006: Meta counts throttled calls too, so a repeat only deepens the hole). A send is
never repeated when it may have gone out (a timeout, a connection lost after sending): a
double reply is worse than a lost part. Every try has what is left of the budget the caller
passed, and a pause is taken only when `MIN_AFTER_PAUSE` would remain after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import THROTTLING_CODES, GraphError

MIN_AFTER_PAUSE = 0.5
HICCUP_CODES = frozenset({1, 2})


def read_again(exc: GraphError) -> bool:
    """A read is safe to repeat unless it timed out or was throttled."""
    if exc.timed_out or exc.code in THROTTLING_CODES:
        return False
    if exc.code is None:
        return exc.status is None or exc.status >= 500
    return exc.code in HICCUP_CODES


def send_again(exc: GraphError) -> bool:
    """A send is repeated only when it provably did not go out."""
    return exc.sent is False and exc.transient


@dataclass(frozen=True)
class Policy:
    """How many tries a call gets, which failures earn another, and the first pause."""

    tries: int
    again: Callable[[GraphError], bool]
    pause: float = 0.3  # doubled after each try

    def pause_before(self, attempt: int) -> float:
        """The pause before try `attempt + 1` (attempt counts from 0)."""
        return self.pause * 2**attempt


READ = Policy(2, read_again)
SEND = Policy(3, send_again)
ONCE = Policy(1, lambda exc: False)
