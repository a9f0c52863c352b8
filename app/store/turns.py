"""Turns: one person's messages are answered one at a time, in timestamp order, whichever
worker or host has them. The store keeps the queue (each store says how to try and how to
leave); the wait for a turn is the same for both and lives here.

A message whose turn is held elsewhere asks the store again every POLL_SECONDS. One whose turn
is held by a thread of this very process (its person's last message came to this worker, as on
a kept-alive connection it does) sleeps until that thread leaves the turn instead: no store
round trip every 20 ms while a reply is being made, and the turn is taken the moment it is free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .base import Turn

POLL_SECONDS = 0.02
# However sure the wake-up, a waiter asks the store again at least this often.
HERE_WAIT_SECONDS = 1.0


class Turns:
    """Mixed into each store: the wait for a turn, and which turns this process holds."""

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Queue `key` and take the turn when nobody holds it and nothing earlier waits."""
        raise NotImplementedError

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        raise NotImplementedError

    def _watch_turns(self) -> None:
        """Called by the store's constructor: by name, how many of this process's threads
        hold the turn (at most one, unless a lease ran out) and the condition its waiters
        sleep on; one lock for all of it."""
        self._turns_lock = threading.Lock()
        self._held_here: dict[str, tuple[list[int], threading.Condition]] = {}

    @contextmanager
    def turn(self, name: str, key: str, ts: int, wait: float, held: bool = False) -> Iterator[Turn]:
        """Queue behind this person's earlier messages; hold the turn while answering; leave
        it at the end unless settle() did. `held`: arrive() queued and granted it already (a
        round trip saved for nearly every message)."""
        ends = time.monotonic() + wait
        turn, here = Turn(name, key, held), False
        try:
            if not turn.held:
                turn.held = self._try_turn(name, key, ts)
            while not turn.held and time.monotonic() < ends:
                self._until_left(name, ends)
                turn.held = self._try_turn(name, key, ts)
            if turn.held:
                self._hold_here(name)
                here = True
            else:
                turn.behind = True
            yield turn
        finally:
            try:
                if not turn.left:
                    self._leave_turn(name, key)
            finally:
                if here:
                    self._left_here(name)

    def _until_left(self, name: str, ends: float) -> None:
        """Sleep until a thread of ours leaves the turn, when one holds it; else POLL_SECONDS.
        The check and the sleep are under one lock, so a leave in between is not missed."""
        with self._turns_lock:
            held = self._held_here.get(name)
            if held is not None:
                held[1].wait(min(HERE_WAIT_SECONDS, max(0.0, ends - time.monotonic())))
                return
        time.sleep(POLL_SECONDS)

    def _hold_here(self, name: str) -> None:
        """A thread of ours holds the turn."""
        with self._turns_lock:
            count, _ = self._held_here.setdefault(
                name, ([0], threading.Condition(self._turns_lock))
            )
            count[0] += 1

    def _left_here(self, name: str) -> None:
        """It left (the store knows already): wake whoever of ours waits for that person."""
        with self._turns_lock:
            count, left = self._held_here[name]
            count[0] -= 1
            if not count[0]:
                del self._held_here[name]
            left.notify_all()
