"""A person from the page's team steps in: the bot stays quiet for that person for a while.

Meta echoes every message the page sends. Our own replies carry our app's id; a reply typed in
the Page Inbox carries none (or, since Graph v12, the Page Inbox's app id, 263902037430900),
and one sent by another tool carries that tool's app id. Those mean a human is talking to the
person, so the bot pauses for HUMAN_PAUSE_MINUTES. Apps listed in AUTOMATION_APP_IDS (an
instant reply, an away message, another bot) are not people: their echoes pause nothing.
Conversation Routing's thread-control events say who owns the thread: while another app (the
Page Inbox) owns it, the bot is quiet; when it is passed back to us, the bot answers at once.
Pauses live in the store, so every worker honours them, and they run from the echo's (or the
event's) own time, so a redelivered echo never extends one. Echoes and thread control of pages
we do not serve never reach this module (app/intake.py drops them).
"""

from __future__ import annotations

import logging
import time

from .events import INSTAGRAM, Event
from .facebook import GraphClient
from .facebook.lookup import Once
from .store import Ledger

log = logging.getLogger(__name__)


PAGE_INBOX_APP_ID = "263902037430900"
# Meta ends thread control after 24 h of inactivity; the pass back ends the pause sooner.
THREAD_PAUSE_SECONDS = 24 * 3600.0
THREAD_CONTROL = ("pass_thread_control", "take_thread_control")
OURS, AUTOMATION, TEAM, UNKNOWN = "ours", "automation", "team", "unknown"
ECHO_WORDS = {
    OURS: "our own echo",
    AUTOMATION: "an automation's echo",
    UNKNOWN: "echo; our app id unknown, set FB_APP_ID",
}
LOOKUP_SECONDS = 3.0  # the most an echo waits to learn our app id


class Handover:
    """Tells our echoes from the team's and automations', and follows thread control."""

    def __init__(
        self,
        graph: GraphClient,
        ledger: Ledger,
        app_id: str,
        minutes: float,
        automations: frozenset[str] = frozenset(),
        clock=time.time,
    ) -> None:
        self.graph = graph
        self.clock = clock
        self.ledger = ledger
        self.minutes = minutes
        self.automations = automations
        self._app_id = Once("our app id (set FB_APP_ID)")
        self._app_id.value = app_id or None

    def from_page(self, event: Event) -> bool:
        """An echo of a message the person saw from someone or something else than this bot
        (the team, another tool, an automation): worth keeping in the conversation. Unknown,
        so not kept, while our own app id cannot be learned."""
        return self._sender(event) in (TEAM, AUTOMATION)

    def echo(self, event: Event) -> str:
        """Pause the bot for this person when a person from the page wrote the echo."""
        if not self.minutes or not event.person_id:
            return "echo"
        sender = self._sender(event)
        if sender != TEAM:
            return ECHO_WORDS[sender]
        if not self._pause(event, self.minutes * 60):
            return "a team's echo whose pause is over"
        return f"bot paused {self.minutes:g} min (the page's team replied)"

    def _sender(self, event: Event) -> str:
        """Who sent what the echo repeats: this bot, an automation, a person of the team, or
        unknown (our app id cannot be learned now)."""
        if not event.app_id:
            # Instagram's echoes carry no app id, ours included: ours are known by their id,
            # kept as each part went out (app/conversation.py).
            if event.channel == INSTAGRAM and event.mid and self.ledger.was_sent(event.mid):
                return OURS
            return TEAM
        if event.app_id == PAGE_INBOX_APP_ID:
            return TEAM
        if event.app_id in self.automations:
            return AUTOMATION
        ours = self.our_app_id(event.page_id)
        if ours is None:
            return UNKNOWN
        return OURS if event.app_id == ours else TEAM

    def _pause(self, event: Event, seconds: float) -> bool:
        """Pause from the event's own time (now, when it has none); False when that pause
        is over already."""
        since = event.timestamp / 1000 if event.timestamp else self.clock()
        if since + seconds <= self.clock():
            return False
        self.ledger.pause(event.conversation, seconds, since)
        return True

    def thread_control(self, event: Event) -> str:
        """Quiet while another app owns the thread; answering again once it is ours."""
        if not event.person_id:
            return f"{event.detail} without a person"
        ours = self.our_app_id(event.page_id)
        if ours is not None and event.app_id == ours:
            self.ledger.resume(event.conversation)
            return f"bot answers again ({event.detail} to this app)"
        if not self._pause(event, THREAD_PAUSE_SECONDS):
            return f"{event.detail} older than a day"
        return f"bot paused ({event.detail} to app {event.app_id or 'unknown'})"

    def our_app_id(self, page_id: str, wait: float = LOOKUP_SECONDS) -> str | None:
        """FB_APP_ID, or the app the page token belongs to, asked of Graph once per process
        (after a failure, again only now and then, so echoes stay cheap); None when it cannot
        be known within `wait` seconds."""
        return self._app_id.get(
            lambda seconds: str(
                self.graph.api("GET", "/app", page_id=page_id, seconds=seconds).get("id") or ""
            ),
            wait,
        )
