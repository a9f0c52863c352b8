"""What the pipeline needs from a store: claims, turns, spend and pauses, which make delivery
exactly-once.

One interface, two stores: a SQLite file (default; WAL, shared by every gunicorn worker and
thread on a host, survives restarts) and Redis (`REDIS_URL`, for several hosts or dynos).

- claim(key): the first delivery of a message id wins; a redelivery of a claimed id loses,
  unless the claim is older than the lease and was never answered (its worker died).
- turn(person, key, ts): messages of one person are answered one at a time, in timestamp order.
- spend(person): how many model calls this person has made in the current window.
- pause(person) / paused(person): someone from the page took over the conversation for a while.
- remember(conversation, entries) / transcript(conversation): the conversation's recent
  messages, kept by us so the prompt needs no Graph read; bounded in count and age.
- allow_read(page) / hold_reads(page, s): Meta's cap on Conversations API calls per page,
  shared by every worker and host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

POLL_SECONDS = 0.02
# A claim this much older than the request budget was abandoned (its worker died).
LEASE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Entry:
    """One message of a conversation: the person's, or the page's (our replies, the team's)."""

    id: str
    text: str
    from_page: bool
    at: float  # seconds since the epoch

    @property
    def created(self) -> datetime:
        """When it was written, as an aware datetime."""
        return datetime.fromtimestamp(self.at, tz=UTC)


@dataclass(frozen=True)
class Transcript:
    """A conversation as the store has it; `known` once it was filled from Graph (or began
    while we kept it), so nothing older that matters is missing."""

    entries: list[Entry] = field(default_factory=list)
    known: bool = False


class Ledger(Protocol):
    """What the pipeline needs from a store."""

    def claim(self, key: str) -> bool:
        """Take the message id for this delivery; False when another delivery has it."""

    def answered(self, key: str) -> None:
        """Record that the reply went out: no redelivery may take the claim over."""

    def turn(self, name: str, key: str, ts: int, wait: float) -> Iterator[bool]:
        """Context manager: wait up to `wait` s for this message's turn; yield whether it came."""

    def spend(self, name: str) -> int:
        """Count one model call for `name` in the current window; return the window's count."""

    def pause(self, name: str, seconds: float) -> None:
        """Keep the bot quiet for `name` for a while."""

    def paused(self, name: str) -> bool:
        """Whether the bot should stay quiet for `name` now."""

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Add entries (an id already kept is not added again); `known` marks it filled."""

    def transcript(self, conversation: str) -> Transcript:
        """The kept entries, oldest first, and whether the conversation is known."""

    def forget(self, conversation: str) -> None:
        """Drop the conversation's entries; it is unknown again."""

    def allow_read(self, page: str) -> bool:
        """Take one Conversations API call of the page's allowance now, or say there is none."""

    def hold_reads(self, page: str, seconds: float) -> None:
        """Allow no Conversations API call for the page for a while (Meta throttled it)."""


class Turns:
    """The wait for a turn, shared by both stores; each says how to try and how to leave."""

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Queue `key` and take the turn when nobody holds it and nothing earlier waits."""
        raise NotImplementedError

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        raise NotImplementedError

    @contextmanager
    def turn(self, name: str, key: str, ts: int, wait: float) -> Iterator[bool]:
        """Queue behind this person's earlier messages; hold the turn while answering."""
        ends = time.monotonic() + wait
        try:
            got = self._try_turn(name, key, ts)
            while not got and time.monotonic() < ends:
                time.sleep(POLL_SECONDS)
                got = self._try_turn(name, key, ts)
            yield got
        finally:
            self._leave_turn(name, key)
