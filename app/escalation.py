"""A person asks for a person: the bot hands the conversation to the page's team.

In words, the model decides: it is offered one function, `hand_to_person` (Chat Completions
function calling), and calls it with a reason when the person wants a human or the bot cannot
help. With a button, the postback's HANDOVER_PAYLOAD decides without the model. Either way
the person gets HANDOVER_REPLY (a fixed text), the thread is passed with Conversation Routing
to HANDOVER_APP_ID (by default the channel's inbox, where the team works) with the reason as
the note the team sees, and the bot stays quiet for that person until the thread is passed
back (Meta ends an idle thread's control after 24 h). When Meta refuses the pass — Routing
not set up, the inbox not connected — the person is still told, the failure is logged with
Meta's words and counted, and the bot steps back only for HUMAN_PAUSE_MINUTES, as after a
team's reply: it does not pretend the team has the thread.
"""

from __future__ import annotations

import logging

from . import metrics
from .deadline import Deadline
from .events import INSTAGRAM, POSTBACK, Event
from .facebook import GraphClient, GraphError
from .handover import PAGE_INBOX_APP_ID, THREAD_PAUSE_SECONDS
from .settings import Settings
from .store import Ledger

log = logging.getLogger(__name__)

INSTAGRAM_INBOX_APP_ID = "1217981644879628"
TOOL_NAME = "hand_to_person"
TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Hand this conversation to a person on the business's team. Call it when the "
            "person asks for a human, or when they need something only the team can do. Do "
            "not call it for questions you can answer."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "reason": {
                    "type": "string",
                    "description": "In a few words, what the person needs (the team sees it).",
                }
            },
            "required": ["reason"],
        },
    },
}
WORDS, BUTTON = "words", "button"
ROUTING_FIX = (
    "set up Conversation Routing (Meta Business Suite → Settings → Advanced messaging → "
    "Conversation routing) with this app and the inbox app connected"
)


def tools(settings: Settings) -> list[dict] | None:
    """The tools the model is offered: the hand-over, unless HANDOVER_REPLY turns it off."""
    return [TOOL] if settings.handover_reply else None


def is_button(event: Event, settings: Settings) -> bool:
    """The "Talk to a person" button."""
    return (
        bool(settings.handover_reply)
        and event.kind == POSTBACK
        and event.payload == settings.handover_payload
    )


class Escalation:
    """Passes a person's thread to the team and keeps the bot quiet meanwhile."""

    def __init__(self, graph: GraphClient, ledger: Ledger, settings: Settings) -> None:
        self.graph = graph
        self.ledger = ledger
        self.settings = settings

    def target(self, event: Event) -> str:
        """The app that takes the thread: HANDOVER_APP_ID, or the channel's inbox."""
        if self.settings.handover_app_id:
            return self.settings.handover_app_id
        return INSTAGRAM_INBOX_APP_ID if event.channel == INSTAGRAM else PAGE_INBOX_APP_ID

    def pass_thread(
        self, event: Event, reason: str, via: str, deadline: Deadline
    ) -> tuple[str, str]:
        """Pass the thread (after HANDOVER_REPLY went out); what happened in a few words, and
        the note the team sees."""
        note = reason.strip()[:500] or "the person asked for a person"
        app = self.target(event)
        try:
            self.graph.pass_thread(event.page_id, event.person_id, app, note, deadline)
        except GraphError as exc:
            code = metrics.graph_code(exc)
            metrics.HANDOVER_FAILURES.labels(event.page_id, event.channel, code).inc()
            log.error(
                "handover failed mid=%s: Meta refused to pass the thread to app %s: %s — %s",
                event.log_id,
                app,
                exc,
                ROUTING_FIX,
            )
            minutes = self.settings.human_pause_minutes
            if minutes:
                self.ledger.pause(event.conversation, minutes * 60)
            return f"handover failed ({code}); quiet {minutes:g} min", note
        metrics.HANDOVERS.labels(event.page_id, event.channel, via).inc()
        self.ledger.pause(event.conversation, THREAD_PAUSE_SECONDS)
        return f"handed to a person via {via}", note
