"""Recovery: a message acknowledged but not answered — its process died after the 200, or
gave it back when nothing could be sent — is answered by a live process, once.

Meta will not send it again, so nothing else would. After each heartbeat (off the request
path), every RECOVER_EVERY_SECONDS, a process asks the store for unanswered claims that no
live process holds, and takes each through the same path as a redelivery: intake's arrive()
claims it (exactly one process wins), then it is answered like any other message. What is
older than RECOVER_WITHIN_MINUTES, or was tried MAX_TRIES times, is given up: logged, counted
and marked so, never answered late.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from . import metrics
from .deadline import Deadline
from .events import Event
from .intake import CannotKeep, Claimed, Intake
from .outcome import DUPLICATE
from .store import Ledger

log = logging.getLogger(__name__)

RECOVER_EVERY_SECONDS = 2.0
SCAN = 500  # unanswered claims looked at per scan, oldest first
LOOKUP_SECONDS = 2.0


class Recovery:
    """Finds and answers what a dead process acknowledged."""

    def __init__(
        self,
        ledger: Ledger,
        intake: Intake,
        answer: Callable[[list[Claimed]], object],
        *,
        within_minutes: float,
        clock=time.time,
    ) -> None:
        self.ledger = ledger
        self.intake = intake
        self.answer = answer
        self.within = within_minutes * 60
        self.clock = clock
        self._next = 0.0

    def __call__(self) -> None:
        """After a heartbeat: recover what is due, now and then."""
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + RECOVER_EVERY_SECONDS
        self.scan()

    def scan(self) -> int:
        """Take over and start answering the orphans; how many were taken."""
        found, given_up = self.ledger.orphans(SCAN, self.clock() - self.within)
        if given_up:
            log.error(
                "gave up on %d acknowledged messages nobody answered (older than %g min or "
                "tried too often)",
                len(given_up),
                self.within / 60,
            )
            metrics.RECOVERY.labels("given_up").inc(len(given_up))
        claimed = []
        for raw in found:
            event = Event.load(raw)
            try:
                result = self.intake.accept(event, Deadline(LOOKUP_SECONDS))
            except CannotKeep:
                continue  # the store is busy: the next scan tries again
            if isinstance(result, Claimed):
                log.warning("recovering mid=%s: given back, or its process is gone", event.log_id)
                claimed.append(result)
            elif result.kind != DUPLICATE:  # nothing to answer after all (too old, paused)
                self.ledger.answered(event.key)
        if claimed:
            metrics.RECOVERY.labels("recovered").inc(len(claimed))
            self.answer(claimed)
        return len(claimed)
