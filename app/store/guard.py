"""A store that fails must cost the person no reply and no double reply.

A message is only acknowledged once it is kept and claimed: without the store nothing can be
promised, so a claim (arrive, claim) that fails raises StoreUnavailable, the webhook answers
503, and Meta delivers the body again — within a second, then for an hour — until the store
is back. Every other call falls back to the value that keeps replies flowing (nobody is
paused, no history, no Conversations read). `Guarded` wraps either store and tells three
failures apart:
- down (no connection, no file): logged; the store is then left alone for BREAKER_SECONDS, so
  an unreachable Redis costs one timeout, not one per call;
- busy (a SQLite lock held past its wait, a Redis call over its timeout, every connection of
  the pool in use, the server's client limit reached): the store is there but slow or full.
  A claim then raises StoreUnavailable, so the request is answered 503 and Meta redelivers: an id
  that may have been answered is never granted again — unless the pool or the server had no
  connection for it (then nothing was sent, and it asks once more). Other calls try again
  (BUSY_TRIES in all; a settle for as long as its turn's lease), then fall back, no breaker;
- anything else is a bug: logged with its traceback, fallen back, no breaker.
A reply marked answered while the store failed is kept here (at most UNMARKED_MOST ids) and
marked after the heartbeat, off the request path, UNMARKED_BATCH at a time; meanwhile this
process treats the id as answered.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TypeVar

import redis

from .base import ANSWERED, Arrival, Entry, Ledger, StoreUnavailable, Transcript, Turn

log = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
UNMARKED_MOST = 10_000  # beyond this, the oldest marks are dropped (and logged)
UNMARKED_BATCH = 100  # marks written after one heartbeat
BUSY_TRIES = 3  # a call other than a claim, when the store is busy (each waits for a connection)
CLAIM_FULL_TRIES = 2  # a claim that found no free connection: nothing was sent, ask again once
BUSY_PAUSE_SECONDS = 0.05
# A full pool or a full server is busy, not down (redis-py raises ConnectionError for both).
REDIS_FULL = ("No connection available", "max number of clients reached")
T = TypeVar("T")


class Guarded:
    """Wraps a store so that its failure degrades to answering unguarded, never to no answer."""

    def __init__(self, store: Ledger) -> None:
        self.store = store
        self._down_until = float("-inf")
        self._unmarked: dict[str, None] = {}  # in the order they were added
        store.every_beat(self.mark_unmarked)

    def _use(
        self, what: str, call: Callable[[], T], fallback: T, *, strict=False, patience=0.0
    ) -> T:
        """Call the store unless it was down moments ago; on failure log and fall back, or,
        `strict` (a claim: nothing may be promised without it), raise StoreUnavailable.
        `patience`: seconds a busy store is tried again for, beyond BUSY_TRIES."""
        if time.monotonic() < self._down_until:
            if strict:
                raise StoreUnavailable(f"store unavailable ({what}), left alone for a moment")
            return fallback
        # Busy means full, and a connection frees within moments. A claim says 503 (Meta
        # delivers again) unless no connection was to be had: a script that timed out may have
        # claimed the id, one never sent did not. Any other call tries again, for what comes
        # next needs it (a settle left undone keeps the person's next message from its turn
        # and from the reply it follows). What is tried again is idempotent, or harmless twice.
        left = CLAIM_FULL_TRIES - 1 if strict else BUSY_TRIES - 1
        until = time.monotonic() + patience
        while True:
            try:
                return call()
            except Exception as exc:
                again = _full(exc) if strict else _busy(exc)
                if not (again and (left > 0 or time.monotonic() < until)):
                    return self._failed(what, exc, fallback, strict)
            left -= 1
            time.sleep(BUSY_PAUSE_SECONDS)

    def _failed(self, what: str, exc: Exception, fallback: T, strict: bool) -> T:
        """Log the failure as busy, down or a bug; fall back, or raise StoreUnavailable."""
        if _busy(exc):
            if strict:
                raise StoreUnavailable(f"store busy ({what}): {exc}") from None
            log.warning("store busy (%s), going on without it: %s", what, exc)
        elif _down(exc):
            self._down_until = time.monotonic() + BREAKER_SECONDS
            log.error("store unavailable (%s): %s", what, exc)
            if strict:
                raise StoreUnavailable(f"store unavailable ({what}): {exc}") from None
        else:
            log.error("store call failed (%s)", what, exc_info=exc)
            if strict:
                raise StoreUnavailable(f"store call failed ({what})") from None
        return fallback

    def arrive(
        self,
        key: str,
        conversation: str,
        entry: Entry,
        spend: bool,
        event: str = "",
        ts: int = 0,
    ) -> Arrival:
        """As claim(): StoreUnavailable when the store is down or busy."""
        if key in self._unmarked:
            return Arrival(ANSWERED)
        arrive = lambda: self.store.arrive(key, conversation, entry, spend, event, ts)  # noqa: E731
        return self._use("claim", arrive, None, strict=True)

    def claim(self, key: str) -> str:
        """Taken, answered or busy; StoreUnavailable when the store cannot say (down or busy):
        a claim granted blindly could be a double reply, one never kept could be lost."""
        if key in self._unmarked:
            return ANSWERED
        return self._use("claim", lambda: self.store.claim(key), None, strict=True)

    def answered(self, key: str) -> None:
        """The reply went out: mark it, now or after a heartbeat."""
        answered = lambda: self.store.answered(key) or True  # noqa: E731
        if not self._use("answered", answered, False):
            self._keep_unmarked(key)

    def settle(
        self,
        key: str,
        turn: Turn,
        conversation: str,
        entries: Sequence[Entry],
        told: bool = False,
    ) -> None:
        """One write; when it fails, the message is marked answered after a heartbeat and the
        turn is left by its context manager (or lapses with its lease). A busy store is tried
        for as long as the turn's lease: the person's next message waits for this turn anyway,
        and given up, it would be answered without this reply."""
        settle = lambda: self.store.settle(key, turn, conversation, entries, told) or True  # noqa: E731
        if not self._use("settle", settle, False, patience=self.store.lease):
            self._keep_unmarked(key)

    def release(self, key: str, tried: bool = True) -> None:
        """Best effort: if it fails, the claim is recovered once this process is gone."""
        self._use("release", lambda: self.store.release(key, tried), None)

    def orphans(self, scan: int, oldest: float) -> tuple[list[str], list[str]]:
        """Nothing to recover while the store fails (recovery tries again after a beat)."""
        return self._use("orphans", lambda: self.store.orphans(scan, oldest), ([], []))

    def every_beat(self, work) -> None:
        """The store's heartbeat runs `work` after each beat."""
        self.store.every_beat(work)

    def start(self) -> str:
        """Start the store's heartbeat (and with it the chores after each beat)."""
        return self.store.start()

    def _keep_unmarked(self, key: str) -> None:
        """Remember to mark `key` answered; the oldest such mark goes when there are too many
        (a redelivery of it, unlikely after its 200, may then be answered again)."""
        self._unmarked[key] = None
        if len(self._unmarked) > UNMARKED_MOST:
            del self._unmarked[next(iter(self._unmarked))]
            log.error("more than %d replies could not be marked answered", UNMARKED_MOST)

    def mark_unmarked(self) -> None:
        """After a heartbeat: mark answered up to UNMARKED_BATCH of what could not be marked
        before (usually nothing), stopping at the first failure."""
        for key in list(self._unmarked)[:UNMARKED_BATCH]:
            if time.monotonic() < self._down_until:
                return
            try:
                self.store.answered(key)
            except Exception as exc:
                if _down(exc) and not _busy(exc):
                    self._down_until = time.monotonic() + BREAKER_SECONDS
                log.warning("could not mark a reply answered yet: %s", exc)
                return
            self._unmarked.pop(key, None)

    @contextmanager
    def turn(self, name: str, key: str, ts: int, wait: float, held: bool = False) -> Iterator[Turn]:
        """Without the store, answer out of turn rather than not at all. The store's own
        context manager sits on an ExitStack, so that its failures, on entering or on
        leaving, are caught here, while the caller's pass through untouched."""
        with ExitStack() as stack:
            turn = lambda: self.store.turn(name, key, ts, wait, held)  # noqa: E731
            enter = lambda: stack.enter_context(turn())  # noqa: E731
            got = self._use("turn", enter, None)
            release = stack.pop_all()  # leaving the turn is ours to guard, not the with's
        try:
            yield got if got is not None else Turn(name, key, False)
        finally:
            self._use("leave turn", release.close, None)

    def pause(self, name: str, seconds: float, since: float | None = None) -> None:
        """Best effort: without the store the bot cannot stay quiet."""
        self._use("pause", lambda: self.store.pause(name, seconds, since), None)

    def paused_until(self, name: str) -> float | None:
        """For the operator: errors reach the command, which says so."""
        return self.store.paused_until(name)

    def resume(self, name: str) -> None:
        """For the operator and for thread control: a failure is logged."""
        self._use("resume", lambda: self.store.resume(name), None)

    def spent(self, name: str) -> int:
        """For the operator."""
        return self.store.spent(name)

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Best effort: a message not kept costs context later, never this reply."""
        self._use("remember", lambda: self.store.remember(conversation, entries, known), None)

    def transcript(self, conversation: str) -> Transcript:
        """Without the store, an unknown conversation: Graph may still fill it."""
        return self._use("transcript", lambda: self.store.transcript(conversation), Transcript())

    def forget(self, conversation: str) -> None:
        """Best effort."""
        self._use("forget", lambda: self.store.forget(conversation), None)

    def allow_read(self, page: str, longest: float) -> str | None:
        """Without the store nobody can count Meta's allowance: make no read rather than
        risk throttling every worker's page."""
        return self._use("allow_read", lambda: self.store.allow_read(page, longest), None)

    def read_done(self, page: str, ticket: str) -> None:
        """Best effort: a place not freed frees itself after the call's longest time."""
        self._use("read_done", lambda: self.store.read_done(page, ticket), None)

    def hold_reads(self, page: str, seconds: float) -> None:
        """Best effort."""
        self._use("hold_reads", lambda: self.store.hold_reads(page, seconds), None)

    def erase(self, conversation: str) -> None:
        """An erasure must not be said done when it was not: StoreUnavailable."""
        self._use("erase", lambda: self.store.erase(conversation), None, strict=True)

    def erased_at(self, conversation: str) -> float | None:
        """Without the store, no history is read from Graph at all (see History), so an
        unknown erasure cannot be undone by a read."""
        return self._use("erased_at", lambda: self.store.erased_at(conversation), None)

    def export(self, conversation: str) -> dict:
        """For the operator: errors reach the command, which says so."""
        return self.store.export(conversation)

    def edit(self, conversation: str, entry_id: str, text: str) -> bool:
        """Best effort: the message keeps its first words."""
        return self._use("edit", lambda: self.store.edit(conversation, entry_id, text), False)

    def unsend(self, conversation: str, entry_id: str) -> bool:
        """Best effort."""
        return self._use("unsend", lambda: self.store.unsend(conversation, entry_id), False)

    def sent(self, ids: list[str]) -> None:
        """Best effort: an echo we cannot recognise pauses the bot (it looks like the team)."""
        self._use("sent", lambda: self.store.sent(ids), None)

    def was_sent(self, message_id: str) -> bool:
        """Without the store, an echo is taken for ours: a bot that silences itself after
        every reply is worse than one that misses a team's reply."""
        return self._use("was_sent", lambda: self.store.was_sent(message_id), True)

    def record_deletion(self, code: str, status: str) -> None:
        """A request whose status cannot be kept must not be confirmed: StoreUnavailable."""
        record = lambda: self.store.record_deletion(code, status)  # noqa: E731
        self._use("record deletion", record, None, strict=True)

    def deletion(self, code: str) -> str | None:
        """A status page with the store away says so (StoreUnavailable)."""
        return self._use("deletion", lambda: self.store.deletion(code), None, strict=True)


def _busy(exc: Exception) -> bool:
    """A store that is there but did not answer in time."""
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc) for word in ("locked", "busy"))
    return _full(exc) or isinstance(exc, redis.TimeoutError)


def _full(exc: Exception) -> bool:
    """No connection was to be had (the pool's or the server's): nothing was sent."""
    return isinstance(exc, redis.ConnectionError) and any(w in str(exc) for w in REDIS_FULL)


def _down(exc: Exception) -> bool:
    """A store that cannot be reached at all."""
    if _busy(exc):
        return False
    return isinstance(exc, (redis.ConnectionError, sqlite3.OperationalError, OSError))
