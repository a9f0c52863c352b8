"""What the pipeline needs from a store: claims, turns, spend and pauses, which make delivery
exactly-once.

One interface, two stores: a SQLite file (default; WAL, shared by every gunicorn worker and
thread on a host, survives restarts) and Redis (`REDIS_URL`, for several hosts or dynos).

- arrive(key, conversation, entry, spend, event): what every person's message needs first, in
  one round trip: keep it in the conversation, claim it with the whole event (what recovery
  needs to answer it), and when it is ours, say whether the conversation is paused, whether
  it was told it talks to an AI, and count its model call (once per message, however often
  it is delivered or taken over).
- claim(key): the first delivery of a message id takes it. A redelivery learns that it was
  answered, or that a live process is answering it, or takes it over from a process that
  died: every process beats a heartbeat into the store, on a path request writes cannot
  block, so a dead owner is known within OWNER_TTL_SECONDS.
- release(key): an unanswered claim is given back, event and all, for recovery to take.
- orphans(scan, oldest): the events of unanswered claims whose owner died or gave them
  back, for a live process to answer (through arrive(), like a redelivery); those too old
  (or tried MAX_TRIES times) are given up.
- turn(person, key, ts): messages of one person are answered one at a time, in timestamp order
  (turns.py).
- settle(key, turn, conversation, entries, told): a message's last write, one round trip: the
  reply parts that went out are kept, the turn is left, the message is marked answered (and
  the conversation as told, when the reply carried the AI disclosure).
- spent(person): how many model calls this person has made in the current window (arrive()
  counts them).
- pause(person) / paused_until(person): someone from the page took over the conversation for a
  while (arrive() reads it).
- remember(conversation, entries) / transcript(conversation): the conversation's recent
  messages, kept by us so the prompt needs no Graph read; bounded in count and age.
- allow_read(page, longest) / read_done(page, ticket) / hold_reads(page, s): Meta's cap on
  Conversations API calls per page, shared by every worker and host. A read holds its place
  while it is under way and for READ_WINDOW_SECONDS after it ended, so Meta, which sees it
  somewhere in between, never counts more than the allowance in any second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from .heartbeat import HEARTBEAT_SECONDS, OWNER_TTL_SECONDS, Owner  # noqa: F401 (the stores')

# A turn held this much longer than the request budget was abandoned, whoever held it.
LEASE_MARGIN_SECONDS = 5.0
# An unanswered claim given back (or left by a dead owner) is tried this many times in all.
MAX_TRIES = 3
# Meta's second, and a tenth for the clocks of several hosts sharing one store.
READ_WINDOW_SECONDS = 1.1

# What claim() found.
TAKEN = "taken"  # ours now: answer it
ANSWERED = "answered"  # a reply (or the fallback) went out already
BUSY = "busy"  # a live worker is answering it right now


class StoreUnavailable(Exception):
    """A claim could not be made now: the store is down, or too busy to answer in time (a held
    SQLite lock, a slow or full Redis). Nothing was promised; ask again later."""


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
    told: bool = False  # the conversation heard the AI disclosure already


@dataclass(frozen=True)
class Arrival:
    """What arrive() found: the claim's state and, when it was taken, whether the bot is to
    stay quiet, the person's model calls in this window with this one (0 when not counted),
    and whether the conversation was told it talks to an AI."""

    state: str
    paused: bool = False
    spent: int = 0
    told: bool = False  # the conversation already heard the AI disclosure
    turn: bool = False  # the person's turn was granted with the arrival (nobody before it)
    # With the turn, the conversation as it stands (its reply needs no read of its own).
    transcript: Transcript | None = None


class Turn:
    """A message's place in its person's queue, truthy while it holds the turn; settle() leaves
    it with the message's last write, and the turn's context manager then has nothing to do."""

    def __init__(self, name: str, key: str, held: bool) -> None:
        self.name, self.key, self.held, self.left = name, key, held, False
        # The wait ran out with an earlier message of the person still open (a slow reply, or
        # one whose process died and that recovery answers): this one is to follow it, not
        # jump it. False when the store could not say (then it is answered out of turn).
        self.behind = False

    def __bool__(self) -> bool:
        return self.held


class Ledger(Protocol):
    """What the pipeline needs from a store."""

    lease: float  # seconds a turn stays held without a word from its holder

    def arrive(
        self,
        key: str,
        conversation: str,
        entry: Entry,
        spend: bool,
        event: str = "",
        ts: int = 0,
    ) -> Arrival:
        """Keep the person's message and claim it with `event` (JSON: what recovery needs);
        when taken, read the pause and whether the conversation was told, (`spend`) count a
        model call the first time only, and unless paused queue for the person's turn (at
        `ts`). One transaction, one round trip."""

    def claim(self, key: str) -> str:
        """Take the message id for this delivery: TAKEN, ANSWERED, or BUSY (a live owner)."""

    def answered(self, key: str) -> None:
        """Record that the reply went out: no redelivery may take the claim over."""

    def settle(
        self,
        key: str,
        turn: Turn,
        conversation: str,
        entries: Sequence[Entry],
        told: bool = False,
    ) -> None:
        """Keep what was sent, leave the turn, mark the message answered and (`told`) the
        conversation told, at once."""

    def release(self, key: str, tried: bool = True) -> None:
        """Give our unanswered claim back: a redelivery or recovery takes it at once. `tried`:
        an attempt that failed counts towards MAX_TRIES; a message given back to wait for
        an earlier one does not."""

    def orphans(self, scan: int, oldest: float) -> tuple[list[str], list[str]]:
        """Events (JSON) of unanswered claims nobody alive holds, claimed at or after
        `oldest` (epoch seconds), among the `scan` oldest unanswered; and the keys of those
        given up (older, or tried MAX_TRIES times), which are marked answered."""

    def turn(self, name: str, key: str, ts: int, wait: float, held: bool = False) -> Iterator[Turn]:
        """Context manager: wait up to `wait` s for this message's turn (`held`: arrive()
        granted it already); yield it (truthy when it came)."""

    def pause(self, name: str, seconds: float, since: float | None = None) -> None:
        """Keep the bot quiet for `name` until `since` (default now) + `seconds`; a pause that
        ends later already stays as it is."""

    def paused_until(self, name: str) -> float | None:
        """When the pause for `name` ends (epoch seconds), or None when there is none."""

    def resume(self, name: str) -> None:
        """End the pause for `name` now."""

    def spent(self, name: str) -> int:
        """The model calls `name` made in the current window, counting none."""

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Add entries (an id already kept is not added again); `known` marks it filled."""

    def transcript(self, conversation: str) -> Transcript:
        """The kept entries, oldest first, and whether the conversation is known."""

    def forget(self, conversation: str) -> None:
        """Drop the conversation's entries; it is unknown again."""

    def erase(self, conversation: str) -> None:
        """Drop everything kept of the conversation; keep only the time, under a key that
        names nobody (app/store/privacy.py)."""

    def erased_at(self, conversation: str) -> float | None:
        """When the conversation was last erased (Graph's older messages stay out)."""

    def export(self, conversation: str) -> dict:
        """Everything kept of the conversation, as plain values."""

    def edit(self, conversation: str, entry_id: str, text: str) -> bool:
        """Replace a kept message's text (the person edited it)."""

    def unsend(self, conversation: str, entry_id: str) -> bool:
        """Drop a kept message (the person unsent it)."""

    def sent(self, ids: list[str]) -> None:
        """Remember for a while that we sent these messages (ids only)."""

    def was_sent(self, message_id: str) -> bool:
        """Whether we sent this message lately."""

    def record_deletion(self, code: str, status: str) -> None:
        """Keep the status of one of Meta's deletion requests under its code."""

    def deletion(self, code: str) -> str | None:
        """That status."""

    def allow_read(self, page: str, longest: float) -> str | None:
        """A ticket for one Conversations API call of the page's allowance, or None when there
        is none now; the call holds its place until read_done, at most `longest` seconds."""

    def read_done(self, page: str, ticket: str) -> None:
        """The call ended: its place counts for READ_WINDOW_SECONDS from now."""

    def hold_reads(self, page: str, seconds: float) -> None:
        """Allow no Conversations API call for the page for a while (Meta throttled it)."""


class Options:
    """What every store is told: the lease of a turn, how long ids are remembered (ttl), the
    spend window, how many entries a conversation keeps and for how long, the Conversations
    API allowance per page and second, and the clock (tests pass one they move)."""

    def _options(
        self,
        *,
        lease: float,
        ttl: float,
        window: float,
        keep: int = 30,
        max_age: float = 24 * 3600.0,
        reads_per_second: int = 2,
        clock=time.time,
    ) -> None:
        self.lease, self.ttl, self.window = lease, ttl, window
        self.keep, self.max_age, self.reads_per_second = keep, max_age, reads_per_second
        self.clock = clock
