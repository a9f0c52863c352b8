"""A ledger store that fails must cost the person nothing: answer unguarded, and say so.

`Guarded` wraps either store. A failing call is logged and answered with the value that keeps
replies flowing (a claim is granted, nobody is paused or over the limit); after a failure the
store is left alone for BREAKER_SECONDS, so an unreachable Redis costs one timeout, not one per
call of every message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from .base import Entry, Ledger, Transcript

log = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
T = TypeVar("T")


class Guarded:
    """Wraps a store so that its failure degrades to answering unguarded, never to no answer."""

    def __init__(self, store: Ledger) -> None:
        self.store = store
        self._down_until = float("-inf")

    def _use(self, what: str, call: Callable[[], T], fallback: T) -> T:
        """Call the store unless it failed moments ago; on failure log, trip, fall back."""
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except Exception as exc:
            self._down_until = time.monotonic() + BREAKER_SECONDS
            log.error("ledger unavailable (%s), going on without it: %s", what, exc)
            return fallback

    def claim(self, key: str) -> bool:
        """A store that cannot answer must not cost the person their reply."""
        return self._use(f"claim {key}", lambda: self.store.claim(key), True)

    def answered(self, key: str) -> None:
        """Best effort: the reply already went out."""
        self._use(f"answered {key}", lambda: self.store.answered(key), None)

    @contextmanager
    def turn(self, name: str, key: str, ts: int, wait: float) -> Iterator[bool]:
        """Without the store, answer out of turn rather than not at all. The store's own
        context manager sits on an ExitStack, so that its failures, on entering or on
        leaving, are caught here, while the caller's pass through untouched."""
        with ExitStack() as stack:
            enter = lambda: stack.enter_context(self.store.turn(name, key, ts, wait))  # noqa: E731
            got = self._use(f"turn {key}", enter, None)
            release = stack.pop_all()  # leaving the turn is ours to guard, not the with's
        try:
            yield bool(got)
        finally:
            self._use(f"release {key}", release.close, None)

    def spend(self, name: str) -> int:
        """Without the store, nobody is over the limit."""
        return self._use("spend", lambda: self.store.spend(name), 0)

    def pause(self, name: str, seconds: float) -> None:
        """Best effort: without the store the bot cannot stay quiet."""
        self._use("pause", lambda: self.store.pause(name, seconds), None)

    def paused(self, name: str) -> bool:
        """Without the store, nobody is paused: answering beats silence."""
        return self._use("paused", lambda: self.store.paused(name), False)

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Best effort: a message not kept costs context later, never this reply."""
        self._use("remember", lambda: self.store.remember(conversation, entries, known), None)

    def transcript(self, conversation: str) -> Transcript:
        """Without the store, an unknown conversation: Graph may still fill it."""
        return self._use("transcript", lambda: self.store.transcript(conversation), Transcript())

    def forget(self, conversation: str) -> None:
        """Best effort."""
        self._use("forget", lambda: self.store.forget(conversation), None)

    def allow_read(self, page: str) -> bool:
        """Without the store nobody can count Meta's allowance: make no read rather than
        risk throttling every worker's page."""
        return self._use("allow_read", lambda: self.store.allow_read(page), False)

    def hold_reads(self, page: str, seconds: float) -> None:
        """Best effort."""
        self._use("hold_reads", lambda: self.store.hold_reads(page, seconds), None)
