"""One event, start to finish: claim → turn → spend → typing → history → prompt → model → split
→ send → mark answered.

No HTTP and no Flask here: the webhook hands over parsed events and a deadline; the Graph
client, the model, the ledger and the settings are passed in, so tests swap any of them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from . import prompt, text
from .deadline import Deadline
from .events import Event
from .facebook import GraphClient, GraphError, HistoryMessage
from .ledger import Ledger
from .llm import MIN_ATTEMPT_SECONDS, ChatModel, ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """The knobs of the pipeline, taken from the app's config."""

    fallback_reply: str
    system_prompt: str = ""
    history_messages: int = 10
    history_max_age_hours: float = 24.0
    send_reserve_seconds: float = 2.5
    spend_limit: int = 30
    spend_limit_reply: str = ""

    @classmethod
    def from_config(cls, config) -> Settings:
        """Pick the pipeline's settings out of a Flask config."""
        return cls(
            fallback_reply=config["FALLBACK_REPLY"],
            system_prompt=config["SYSTEM_PROMPT"],
            history_messages=config["HISTORY_MESSAGES"],
            history_max_age_hours=config["HISTORY_MAX_AGE_HOURS"],
            send_reserve_seconds=config["SEND_RESERVE_SECONDS"],
            spend_limit=config["SPEND_LIMIT"],
            spend_limit_reply=config["SPEND_LIMIT_REPLY"],
        )


def short_id(person_id: str) -> str:
    """Enough of a PSID to follow one person through the logs, not enough to be the id."""
    return "…" + person_id[-4:] if len(person_id) > 4 else person_id


class Responder:
    """Answers a person's message with exactly one reply: the model's, or the fallback."""

    def __init__(
        self, graph: GraphClient, model: ChatModel, ledger: Ledger, settings: Settings
    ) -> None:
        self.graph = graph
        self.model = model
        self.ledger = ledger
        self.settings = settings

    def handle(self, event: Event, deadline: Deadline) -> str:
        """Run the pipeline for one event and return a short outcome for the log line."""
        started = time.monotonic()
        if not event.answerable:
            outcome = f"ignored ({event.kind}{': ' + event.detail if event.detail else ''})"
        elif not self.ledger.claim(event.key):
            outcome = "duplicate (already claimed)"
        else:
            outcome = self._in_turn(event, deadline)
        log.info(
            "event mid=%s person=%s kind=%s outcome=%s ms=%d",
            event.mid or "-",
            short_id(event.person_id),
            event.kind,
            outcome,
            (time.monotonic() - started) * 1000,
        )
        return outcome

    def _in_turn(self, event: Event, deadline: Deadline) -> str:
        """Wait for this person's earlier messages to be answered, then answer this one."""
        # Leave enough of the budget to still answer after waiting.
        wait = deadline.remaining() - self.settings.send_reserve_seconds - 2 * MIN_ATTEMPT_SECONDS
        person = f"{event.page_id}:{event.person_id}"
        with self.ledger.turn(person, event.key, event.timestamp, max(0.0, wait)) as in_turn:
            if not in_turn:
                log.warning("answering out of turn mid=%s: earlier messages still open", event.mid)
            outcome = self._answer(event, deadline)
        self.ledger.answered(event.key)
        return outcome

    def _answer(self, event: Event, deadline: Deadline) -> str:
        """spend → typing → history → prompt → model → split → send."""
        spent = self.ledger.spend(f"{event.page_id}:{event.person_id}")
        if spent > self.settings.spend_limit:
            if spent > self.settings.spend_limit + 1:
                return "silent (over the spend limit, notice already sent)"
            sent = self._send(event, text.split(self.settings.spend_limit_reply), deadline)
            return f"spend limit notice sent={sent}"
        self._typing(event, deadline)
        history = self._history(event, deadline)
        messages = prompt.build(
            event,
            history,
            system_prompt=self.settings.system_prompt,
            limit=self.settings.history_messages,
            max_age_hours=self.settings.history_max_age_hours,
            now=datetime.now(UTC),
        )
        reply, source = self._reply(event, messages, deadline)
        parts = text.split(reply)
        sent = self._send(event, parts, deadline)
        if sent < len(parts):
            return f"send failed after {sent}/{len(parts)} parts ({source})"
        return f"{source} parts={len(parts)} history={len(messages) - 1}"

    def _typing(self, event: Event, deadline: Deadline) -> None:
        """Let the person see the bot is working; a failure here changes nothing else."""
        try:
            self.graph.sender_action(event.page_id, event.person_id, "typing_on", deadline)
        except GraphError as exc:
            log.warning("typing_on failed mid=%s: %s", event.mid, exc)

    def _history(self, event: Event, deadline: Deadline) -> list[HistoryMessage]:
        """Earlier messages, or none when Graph cannot give them: answer from this message."""
        if not self.settings.history_messages:
            return []
        try:
            # One more than needed: the current message is often listed already.
            limit = min(self.settings.history_messages + 1, 20)
            return self.graph.history(event.page_id, event.person_id, limit, deadline)
        except GraphError as exc:
            log.warning("history unavailable mid=%s: %s", event.mid, exc)
            return []

    def _reply(self, event: Event, messages: list[dict], deadline: Deadline) -> tuple[str, str]:
        """The model's reply, or the fallback text when there is none in time."""
        try:
            model_deadline = deadline.minus(self.settings.send_reserve_seconds)
            return self.model.reply(messages, model_deadline), "model"
        except ModelError as exc:
            log.warning("model failed mid=%s: %s", event.mid, exc)
            return self.settings.fallback_reply, "fallback"

    def _send(self, event: Event, parts: list[str], deadline: Deadline) -> int:
        """Send the parts in order, each after the previous succeeded; return how many went."""
        for index, part in enumerate(parts):
            try:
                self.graph.send_text(event.page_id, event.person_id, part, deadline)
            except GraphError as exc:
                log.error("send failed mid=%s part=%d: %s", event.mid, index + 1, exc)
                return index
        return len(parts)
