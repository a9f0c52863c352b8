"""A person from the page's team steps in: the bot stays quiet for that person for a while.

Meta echoes every message the page sends. Our own replies carry our app's id; a reply typed in
the Page Inbox carries none, and one sent by another tool carries that tool's app id. Either
of those means a human is talking to the person, so the bot pauses for HUMAN_PAUSE_MINUTES;
the pause lives in the ledger store so every worker honours it.
"""

from __future__ import annotations

import logging

from .events import Event
from .facebook import GraphClient
from .facebook.lookup import Once
from .store import Ledger

log = logging.getLogger(__name__)


def person_key(event: Event) -> str:
    """One conversation: a page and a person."""
    return f"{event.page_id}:{event.person_id}"


class Handover:
    """Tells our echoes from the team's replies and pauses the bot after the latter."""

    def __init__(self, graph: GraphClient, ledger: Ledger, app_id: str, minutes: float) -> None:
        self.graph = graph
        self.ledger = ledger
        self.minutes = minutes
        self._app_id = Once("our app id (set FB_APP_ID)")
        self._app_id.value = app_id or None

    def from_team(self, event: Event) -> bool:
        """An echo of a message someone from the page's team sent: no app id (typed in the
        Page Inbox), or another app's. Unknown while our own app id cannot be learned."""
        if not event.app_id:
            return True
        ours = self.our_app_id(event.page_id)
        return ours is not None and event.app_id != ours

    def echo(self, event: Event) -> str:
        """Pause the bot for this person when the echo is not one of our own replies."""
        if not self.minutes or not event.person_id:
            return "ignored (echo)"
        if event.app_id:
            ours = self.our_app_id(event.page_id)
            if ours is None:
                return "ignored (echo; our app id unknown, set FB_APP_ID)"
            if event.app_id == ours:
                return "ignored (our own echo)"
        self.ledger.pause(person_key(event), self.minutes * 60)
        return f"bot paused {self.minutes:g} min (the page's team replied)"

    def our_app_id(self, page_id: str) -> str | None:
        """FB_APP_ID, or the app the page token belongs to, asked of Graph once per process
        (after a failure, again only now and then, so echoes stay cheap)."""
        return self._app_id.get(
            lambda: str(self.graph.api("GET", "/app", page_id=page_id, seconds=3).get("id") or "")
        )
