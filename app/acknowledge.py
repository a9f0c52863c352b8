"""Acknowledge: the webhook's 200 goes out within ACK_SECONDS, whatever the model does.

Every person's messages of a body are answered on this process's reply threads, one person's
in the order they were written (Meta: "use the webhook timestamp field"), different people in
parallel. The request waits for them, at most until ACK_SECONDS after it arrived: a reply
ready by then is sent before the 200, as a classic synchronous service would; one that is not
goes on after it, on the same threads, and is sent once; so do the replies of a request that
comes while half the worker's request threads are waiting already, and of every waiting
request once a delivery takes the worker's last request thread. Nothing is promised that
is not kept: each message was kept and claimed in the store (app/intake.py) before any of
this, so a process that dies after its 200 leaves its messages to recovery (app/recovery.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .conversation import Conversation
from .deadline import Deadline
from .events import Event
from .intake import CannotKeep, Claimed, Intake
from .outcome import DEFERRED, FAILED, Outcome

log = logging.getLogger(__name__)


class Acknowledger:
    """Sorts a body's events, starts their replies, and says when the webhook may answer."""

    def __init__(
        self,
        intake: Intake,
        conversation: Conversation,
        record: Callable[..., None],
        *,
        threads: int,
        budget: float,
    ) -> None:
        """`threads`: WEB_THREADS, the worker's request threads and the replies it makes at
        once; `budget`: seconds one reply may take in all (REQUEST_BUDGET_SECONDS)."""
        self.intake = intake
        self.conversation = conversation
        self.record = record
        self.budget = budget
        self._replies = ThreadPoolExecutor(threads, thread_name_prefix="reply")
        # A request that waits for its replies holds one of the worker's WEB_THREADS request
        # threads. Were they all waiting, the next delivery would queue in gunicorn for one,
        # and under a burst its 200 would come after Meta's five seconds however soon it
        # answered. So at most half of them wait; beyond that a request says 200 as soon as
        # its messages are kept, and the replies go on after it, as a slow reply does.
        self._may_wait = max(1, threads // 2)
        self._waiting = 0
        # The other half can fill too, with deliveries being kept while a burst's replies take
        # the CPU: then the next one queues in gunicorn, and when it gets a thread seconds
        # later, the five seconds are nearly gone. So the moment every request thread is in
        # here, the waiting ones say their 200 at once and give their threads back.
        self._threads = threads
        self._inside = 0
        self._holding: set[threading.Event] = set()
        self._count = threading.Lock()

    def receive(self, received: list[Event], ack: Deadline) -> bool:
        """Keep and claim every event, start the replies, and return once they are all sent
        or `ack` has run out. True when every message was kept (say 200); False when the store
        could not keep some (say 503: Meta delivers the body again; what was kept dedups)."""
        with self._count:
            self._inside += 1
            crowded = self._inside >= self._threads
            if crowded:
                for holding in self._holding:
                    holding.set()
        try:
            return self._receive(received, ack, may_hold=not crowded)
        finally:
            with self._count:
                self._inside -= 1

    def _receive(self, received: list[Event], ack: Deadline, *, may_hold: bool) -> bool:
        """receive() once counted in; `may_hold`: it did not take the last request thread."""
        claimed, kept = [], True
        # In the order written: a person's earlier message queues for its turn first.
        for event in sorted(received, key=lambda e: e.timestamp):
            started = time.monotonic()
            try:
                result = self.intake.accept(event, ack)
            except CannotKeep as exc:
                kept = False
                outcome = Outcome(DEFERRED, f"not kept, Meta delivers it again: {exc}")
                self.record(event, outcome, time.monotonic() - started)
                continue
            except Exception:  # a bug: nothing was promised, so Meta may deliver it again
                log.exception("keeping failed mid=%s", event.log_id)
                kept = False
                self.record(event, Outcome(FAILED, "a bug while keeping it"), 0.0)
                continue
            if isinstance(result, Outcome):
                self.record(event, result, time.monotonic() - started)
            else:
                claimed.append(result)
        started = self.answer(claimed)
        if started and may_hold:
            self._hold(started, ack)
        return kept

    def _hold(self, started: list[Future], ack: Deadline) -> None:
        """Wait for the replies until `ack` runs out, unless half the request threads wait
        already or every one of them is taken."""
        ready = threading.Event()
        with self._count:
            if self._waiting >= self._may_wait or self._inside >= self._threads:
                return
            self._waiting += 1
            self._holding.add(ready)
        try:
            for future in started:  # one already done calls back at once
                future.add_done_callback(lambda _: all(f.done() for f in started) and ready.set())
            ready.wait(ack.remaining())
        finally:
            with self._count:
                self._waiting -= 1
                self._holding.discard(ready)

    def answer(self, claimed: list[Claimed]) -> list[Future]:
        """Start the replies: one task per person, their messages in timestamp order."""
        people: dict[str, list[Claimed]] = {}
        for one in claimed:
            people.setdefault(one.event.conversation, []).append(one)
        return [
            self._replies.submit(self._answer_in_order, sorted(group, key=_written))
            for group in people.values()
        ]

    def _answer_in_order(self, group: list[Claimed]) -> None:
        """One person's messages, each with the whole budget from when it starts."""
        for claimed in group:
            started = time.monotonic()
            deadline = Deadline(self.budget)
            try:
                outcome = self.conversation.answer(claimed, deadline)
            except Exception:  # answer() gives every failure back; this is a last guard
                log.exception("reply failed mid=%s", claimed.event.log_id)
                continue
            self.record(claimed.event, outcome, time.monotonic() - started, deadline.elapsed())


def _written(claimed: Claimed) -> int:
    """When the person wrote the message (Meta's timestamp; a body may list them otherwise)."""
    return claimed.event.timestamp
