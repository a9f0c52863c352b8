"""One event, start to finish: heard → claim → turn → spend → typing → history → prompt →
model → split → send → kept → mark answered.

No HTTP and no Flask here: the webhook hands over parsed events and a deadline; the Graph
client, the model, the ledger and the settings are passed in, so tests swap any of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from . import prompt, text
from .deadline import Deadline
from .events import ATTACHMENT, ECHO, POSTBACK, Event
from .facebook import GraphClient, GraphError
from .handover import Handover, person_key
from .history import History
from .llm import MIN_ATTEMPT_SECONDS, ChatModel, ModelError, Usage
from .store import Ledger

log = logging.getLogger(__name__)

TYPING_SECONDS = 1.0  # a typing indicator later than this is not worth showing
TYPING_THREADS = 16


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
    page_prompts: Mapping[str, str] = field(default_factory=dict)
    get_started_payload: str = "GET_STARTED"
    welcome_message: str = ""
    model_accepts_images: bool = True
    image_reply: str = ""
    sticker_reply: str = ""
    attachment_reply: str = ""
    human_pause_minutes: float = 30.0
    app_id: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Each field is the setting of the same name in capitals; pages bring their prompts."""
        values = {f.name: config[f.name.upper()] for f in fields(cls) if f.name.upper() in config}
        pages = config.get("FB_PAGE_TOKENS") or {}
        values["page_prompts"] = {
            page_id: page["system_prompt"]
            for page_id, page in pages.items()
            if page["system_prompt"]
        }
        values["app_id"] = config.get("FB_APP_ID", "")
        return cls(**values)


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
        self.handover = Handover(graph, ledger, settings.app_id, settings.human_pause_minutes)
        self.history = History(graph, ledger, limit=settings.history_messages)
        # Typing indicators go out beside the model call, never in its way.
        self._typing_pool = ThreadPoolExecutor(TYPING_THREADS, thread_name_prefix="typing")

    def handle(self, event: Event, deadline: Deadline) -> str:
        """Run the pipeline for one event and return a short outcome for the log line."""
        started = time.monotonic()
        outcome = self._route(event, deadline)
        log.info(
            "event mid=%s person=%s kind=%s outcome=%s ms=%d",
            event.mid or "-",
            short_id(event.person_id),
            event.kind,
            outcome,
            (time.monotonic() - started) * 1000,
        )
        return outcome

    def _route(self, event: Event, deadline: Deadline) -> str:
        """Echoes and what is never answered first; a person's message is kept, claimed, then
        answered unless someone from the page is talking to them."""
        if event.kind == ECHO:
            if self.handover.from_team(event):
                self.history.team(event)
            return self.handover.echo(event)
        if not self.graph.serves(event.page_id):
            return f"ignored (no token for page {event.page_id})"
        if event.standby and event.from_person:
            self.history.heard(event)  # another app owns the thread; the record stays whole
            return f"ignored (standby {event.kind})"
        if not event.answerable:
            return f"ignored ({event.kind}{': ' + event.detail if event.detail else ''})"
        self.history.heard(event)
        if not self.ledger.claim(event.key):
            return "duplicate (already claimed)"
        if self.ledger.paused(person_key(event)):
            self.ledger.answered(event.key)
            return "quiet (someone from the page is replying)"
        return self._in_turn(event, deadline)

    def _in_turn(self, event: Event, deadline: Deadline) -> str:
        """Wait for this person's earlier messages to be answered, then answer this one."""
        # Leave enough of the budget to still answer after waiting.
        wait = deadline.remaining() - self.settings.send_reserve_seconds - 2 * MIN_ATTEMPT_SECONDS
        person = person_key(event)
        with self.ledger.turn(person, event.key, event.timestamp, max(0.0, wait)) as in_turn:
            if not in_turn:
                log.warning("answering out of turn mid=%s: earlier messages still open", event.mid)
            try:
                outcome = self._answer(event, deadline)
            except Exception:  # a bug must not cost the person their reply
                log.exception("pipeline failed mid=%s, sending the fallback", event.mid)
                fallback = self.settings.fallback_reply
                outcome = self._deliver(event, fallback, "fallback after error", deadline)
        self.ledger.answered(event.key)
        return outcome

    def _answer(self, event: Event, deadline: Deadline) -> str:
        """A fixed reply where one fits; else spend → typing → history → prompt → model → send."""
        s = self.settings
        canned = self._canned(event)
        if canned:
            return self._deliver(event, canned, "canned", deadline)
        spent = self.ledger.spend(person_key(event))
        if spent > s.spend_limit:
            if spent > s.spend_limit + 1:
                return "silent (over the spend limit, notice already sent)"
            return self._deliver(event, s.spend_limit_reply, "spend notice", deadline)
        # Only the send may use the reserve: history and the model end before it.
        before_send = deadline.minus(s.send_reserve_seconds)
        typing = self._typing_pool.submit(self._typing, event)
        history, source = self.history.recall(event, before_send)
        welcome = self._is_get_started(event)
        messages = prompt.build(
            event,
            history,
            system_prompt=s.page_prompts.get(event.page_id, s.system_prompt),
            limit=s.history_messages,
            max_age_hours=s.history_max_age_hours,
            now=datetime.now(UTC),
            note=prompt.note(event, welcome=welcome),
            images=s.model_accepts_images,
        )
        reply, made_by, usage = self._reply(event, messages, before_send)
        _after(typing)  # the indicator must not arrive after the reply
        earlier = sum(1 for m in messages[:-1] if m["role"] != "system")
        outcome = self._deliver(
            event, reply, made_by, deadline, history=earlier, history_from=source
        )
        return f"{outcome} {usage}"

    def _canned(self, event: Event) -> str:
        """The configured reply for what the model is not asked about; empty for the model."""
        s = self.settings
        if self._is_get_started(event) and s.welcome_message:
            return s.welcome_message
        if event.kind != ATTACHMENT:
            return ""
        if event.sticker:
            return s.sticker_reply
        if event.images:
            return "" if s.model_accepts_images else s.image_reply
        return s.attachment_reply

    def _is_get_started(self, event: Event) -> bool:
        """The Get Started button: the first tap of a new conversation."""
        return event.kind == POSTBACK and event.payload == self.settings.get_started_payload

    def _deliver(self, event: Event, reply: str, source: str, deadline: Deadline, **extra) -> str:
        """Split, send in order, keep what went out in the transcript, and say how it went."""
        parts = text.split(reply)
        sent = self._send(event, parts, deadline)
        self.history.replied(event, sent)
        if len(sent) < len(parts):
            return f"send failed after {len(sent)}/{len(parts)} parts ({source})"
        details = "".join(f" {k}={v}" for k, v in extra.items())
        return f"{source} parts={len(parts)}{details}"

    def _typing(self, event: Event) -> None:
        """Let the person see the bot is working; a failure here changes nothing else."""
        try:
            action = "typing_on"
            self.graph.sender_action(
                event.page_id, event.person_id, action, Deadline(TYPING_SECONDS)
            )
        except GraphError as exc:
            log.warning("typing_on failed mid=%s: %s", event.mid, exc)

    def _reply(
        self, event: Event, messages: list[dict], deadline: Deadline
    ) -> tuple[str, str, Usage]:
        """The model's reply, or the fallback text when there is none in time; and the tokens
        it cost either way."""
        try:
            answer = self.model.reply(messages, deadline)
        except ModelError as exc:
            log.warning("model failed mid=%s: %s", event.mid, exc)
            return self.settings.fallback_reply, "fallback", exc.usage
        return answer.text, "model", answer.usage

    def _send(self, event: Event, parts: list[str], deadline: Deadline) -> list[tuple[str, str]]:
        """Send the parts in order, each after the previous succeeded; return Meta's id and the
        text of each part that went out."""
        sent = []
        for index, part in enumerate(parts):
            try:
                mid = self.graph.send_text(event.page_id, event.person_id, part, deadline)
            except GraphError as exc:
                log.error("send failed mid=%s part=%d: %s", event.mid, index + 1, exc)
                break
            sent.append((mid, part))
        return sent


def _after(typing: Future) -> None:
    """Drop a typing indicator that has not started; let one under way finish first."""
    if not typing.cancel():
        wait([typing], timeout=TYPING_SECONDS)
