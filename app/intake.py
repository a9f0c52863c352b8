"""Keep & claim: every event of a body is sorted out here, before any reply starts.

What is never answered (echoes, thread control, reads, standby, other pages, a message older
than Meta's 24-hour window) ends here with its outcome. A person's message is kept in its
conversation and claimed in the store, with the whole event, in one round trip (`arrive`): from
then on a live process answers it — this one, or recovery in another if this one dies — so
the webhook may say 200. A message answered already, or being answered by a live process,
ends here too: a redelivery gets its 200 at once, never a wait. A store too busy to keep it
raises CannotKeep: the webhook says 503 and Meta delivers the body again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .canned import fixed_reply, is_forget
from .deadline import Deadline
from .events import ECHO, EDIT, UNSENT, Event
from .facebook import GraphClient
from .handover import THREAD_CONTROL, Handover
from .history import History
from .outcome import DUPLICATE, PAUSED, Outcome, ignored
from .settings import Settings
from .store import ANSWERED, BUSY, Arrival, Ledger, StoreUnavailable

# Meta's standard messaging window: a reply to an older message would be refused (10/2018278).
WINDOW_SECONDS = 24 * 3600.0
LOOKUP_SECONDS = 2.0  # the most one event waits to learn our page or app id


class CannotKeep(Exception):
    """The store could not keep the message now (busy): nothing was promised, ask again."""


@dataclass(frozen=True)
class Claimed:
    """A person's message, kept and claimed by this process: it is ours to answer."""

    event: Event
    arrival: Arrival


class Intake:
    """Sorts each event: an outcome now, or a claimed message to answer."""

    def __init__(
        self,
        graph: GraphClient,
        ledger: Ledger,
        handover: Handover,
        history: History,
        settings: Settings,
        clock=time.time,
    ) -> None:
        self.graph = graph
        self.ledger = ledger
        self.handover = handover
        self.history = history
        self.settings = settings
        self.clock = clock

    def accept(self, event: Event, deadline: Deadline) -> Outcome | Claimed:
        """The event's outcome when it needs no reply, else its claim; CannotKeep when the
        store cannot keep it now."""
        if event.kind == ECHO or event.detail in THREAD_CONTROL:
            return self._from_the_page(event, deadline)
        if event.detail in (EDIT, UNSENT) and event.mid and event.person_id:
            if not self.graph.serves(event.page_id, deadline.cap(LOOKUP_SECONDS)):
                return ignored(f"{event.detail} for a page not ours, {event.page_id}")
            return ignored(self.history.change(event))
        if not event.from_person:
            return ignored(f"{event.kind}{': ' + event.detail if event.detail else ''}")
        if not self.graph.serves(event.page_id, deadline.cap(LOOKUP_SECONDS)):
            return ignored(f"not our page {event.page_id}")
        if event.standby:
            if is_forget(event, self.settings):
                return self._erase_quietly(event)
            self.history.heard(event)  # another app owns the thread; the record stays whole
            return ignored(f"standby {event.kind}")
        if event.timestamp and event.timestamp / 1000 < self.clock() - WINDOW_SECONDS:
            self.history.heard(event)
            return ignored("older than Meta's 24-hour window")
        return self._claim(event)

    def _from_the_page(self, event: Event, deadline: Deadline) -> Outcome:
        """An echo or a thread-control change: the team stepping in or out. Those of pages we
        do not serve are nothing of ours (no pause, no kept text, no lookup)."""
        if not self.graph.serves(event.page_id, deadline.cap(LOOKUP_SECONDS)):
            return ignored(f"{event.detail or event.kind} of a page not ours, {event.page_id}")
        if event.kind != ECHO:
            return ignored(self.handover.thread_control(event))
        if self.handover.from_page(event):
            self.history.team(event)
        return ignored(self.handover.echo(event))

    def _claim(self, event: Event) -> Outcome | Claimed:
        """Keep and claim the person's message (with its model call counted, once)."""
        spend = fixed_reply(event, self.settings) is None
        entry = self.history.entry(event)
        try:
            arrival = self.ledger.arrive(
                event.key, event.conversation, entry, spend, event.dump(), event.timestamp
            )
        except StoreUnavailable as exc:
            raise CannotKeep(str(exc)) from None
        if arrival.state == ANSWERED:
            return Outcome(DUPLICATE, "already answered")
        if arrival.state == BUSY:
            return Outcome(DUPLICATE, "a live process is answering it")
        if arrival.paused:
            if is_forget(event, self.settings):
                return self._erase_quietly(event)
            self.ledger.answered(event.key)
            return Outcome(PAUSED, "someone from the page is replying")
        return Claimed(event, arrival)

    def _erase_quietly(self, event: Event) -> Outcome:
        """ "Delete my data" while the team has the conversation: the erasure is the person's
        right whoever is talking to them, but the reply is the team's to give."""
        try:
            quiet_until = self.ledger.paused_until(event.conversation)
            self.ledger.erase(event.conversation)
        except StoreUnavailable as exc:
            raise CannotKeep(str(exc)) from None
        if quiet_until:  # the team still has them: the bot stays quiet
            self.ledger.pause(event.conversation, 0.0, since=quiet_until)
        self.ledger.answered(event.key)
        return Outcome(PAUSED, "erased as the person asked; no reply while the team has them")
