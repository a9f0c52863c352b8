"""One event, start to finish: arrive (kept, claimed, pause read, call counted: one store round
trip) → turn → typing → history → prompt → model → split → send → settle (reply kept, turn
left, answered: one round trip).

No HTTP and no Flask here: the webhook hands over parsed events and a deadline; the Graph
client, the model, the ledger and the settings are passed in, so tests swap any of them.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from . import batch, metrics, prompt, render, text
from .batch import Redeliver
from .deadline import Deadline
from .events import ATTACHMENT, ECHO, POSTBACK, Event
from .facebook import GraphClient, GraphError
from .handover import THREAD_CONTROL, Handover
from .history import History, said_before
from .llm import MIN_ATTEMPT_SECONDS, ChatModel, ModelError, Usage
from .logs import short_id
from .settings import Settings
from .store import ANSWERED, BUSY, Arrival, Ledger, StoreBusy

log = logging.getLogger(__name__)

TYPING_SECONDS = 1.0  # a typing indicator later than this is not worth showing
TYPING_THREADS = 16
OWNER_POLL_SECONDS = 0.1


class Responder:
    """Answers a person's message with exactly one reply: the model's, or the fallback."""

    def __init__(
        self, graph: GraphClient, model: ChatModel, ledger: Ledger, settings: Settings
    ) -> None:
        self.graph = graph
        self.model = model
        self.ledger = ledger
        self.settings = settings
        self.handover = Handover(
            graph,
            ledger,
            settings.app_id,
            settings.human_pause_minutes,
            settings.automation_app_ids,
        )
        self.history = History(graph, ledger, limit=settings.history_messages)
        # Typing indicators go out beside the model call, never in its way.
        self._typing_pool = ThreadPoolExecutor(TYPING_THREADS, thread_name_prefix="typing")
        self._people = ThreadPoolExecutor(settings.web_threads, thread_name_prefix="person")

    @property
    def _needed(self) -> float:
        """The least time worth starting an answer with: a model attempt and the send."""
        return self.settings.send_reserve_seconds + MIN_ATTEMPT_SECONDS

    def handle_all(self, received: list[Event], deadline: Deadline) -> bool:
        """Every event of a webhook body (app/batch.py); True when each was settled."""
        return batch.settle_all(
            received, self.handle, self._skipped, deadline, self._needed, self._people
        )

    def handle(self, event: Event, deadline: Deadline) -> str:
        """Run the pipeline for one event; log and count its outcome once."""
        started = time.monotonic()
        outcome = "failed (a bug: see the traceback)"
        try:
            outcome = self._route(event, deadline)
        except Redeliver as exc:
            outcome = f"redeliver ({exc})"
            raise
        finally:
            self._record(event, outcome, deadline, time.monotonic() - started)
        return outcome

    def _skipped(self, event: Event) -> None:
        """An event of a batch that could not start in time: counted, asked for again."""
        self._record(event, "redeliver (no time left to start it)", None, 0.0)

    def _record(self, event: Event, outcome: str, deadline: Deadline | None, took: float) -> None:
        """The event's log line and its metrics."""
        fields = {
            "mid": event.mid or "-",
            "person": short_id(event.person_id),
            "kind": event.kind,
            "outcome": outcome,
            "ms": int(took * 1000),
        }
        log.info(
            "event mid=%s person=%s kind=%s outcome=%s ms=%d",
            *fields.values(),
            extra={"event": fields},
        )
        counted = metrics.outcome_of(outcome)
        metrics.EVENTS.labels(event.page_id, event.kind, counted).inc()
        if deadline is not None and " parts=" in outcome:
            metrics.REPLY_SECONDS.labels(event.page_id).observe(deadline.elapsed())

    def _route(self, event: Event, deadline: Deadline) -> str:
        """Echoes and what is never answered first; a person's message is kept, claimed, then
        answered unless someone from the page is talking to them."""
        if event.kind == ECHO:
            if self.handover.from_page(event):
                self.history.team(event)
            return self.handover.echo(event)
        if event.detail in THREAD_CONTROL:
            return self.handover.thread_control(event)
        if not event.from_person:
            return f"ignored ({event.kind}{': ' + event.detail if event.detail else ''})"
        if not self.graph.serves(event.page_id):
            return f"ignored (not our page {event.page_id})"
        if event.standby:
            self.history.heard(event)  # another app owns the thread; the record stays whole
            return f"ignored (standby {event.kind})"
        arrival = self._arrive(event, deadline)
        if arrival.state == ANSWERED:
            return "duplicate (already answered)"
        if arrival.paused:
            self.ledger.answered(event.key)
            return "quiet (someone from the page is replying)"
        return self._in_turn(event, deadline, arrival.spent)

    def _arrive(self, event: Event, deadline: Deadline) -> Arrival:
        """Keep the message and take it, or learn it was answered; while a live worker is
        answering it, wait (within the budget) to learn how it ended, and take it over if that
        worker dies. A model call is counted with the claim (the spend limit)."""
        heard, spend = self.history.entry(event), self._canned(event) is None
        try:
            arrival = self.ledger.arrive(event.key, event.conversation, heard, spend)
            while (
                arrival.state == BUSY and deadline.remaining() > self._needed + OWNER_POLL_SECONDS
            ):
                time.sleep(OWNER_POLL_SECONDS)
                arrival = self.ledger.arrive(event.key, event.conversation, heard, spend)
        except StoreBusy as exc:
            raise Redeliver(str(exc)) from None
        if arrival.state == BUSY:
            raise Redeliver("a live worker is still answering it")
        return arrival

    def _in_turn(self, event: Event, deadline: Deadline, spent: int) -> str:
        """Wait for this person's earlier messages to be answered, then answer this one."""
        # Leave enough of the budget to still answer after waiting.
        wait = deadline.remaining() - self._needed - MIN_ATTEMPT_SECONDS
        person = event.conversation
        sent: list[tuple[str, str]] = []  # what went out: Meta's id and the text of each part
        try:
            with self.ledger.turn(person, event.key, event.timestamp, max(0.0, wait)) as turn:
                if not turn:
                    log.warning("answering out of turn mid=%s: earlier ones still open", event.mid)
                try:
                    outcome = self._answer(event, deadline, spent, sent)
                except Redeliver:
                    raise
                except Exception:  # a bug must not cost the person their reply
                    log.exception("pipeline failed mid=%s, sending the fallback", event.mid)
                    fallback = self.settings.fallback_reply
                    outcome = self._deliver(event, fallback, "fallback after error", deadline, sent)
                kept = self.history.replies(event, sent)
                self.ledger.settle(event.key, turn, event.conversation, kept)
        except Redeliver:
            self.ledger.release(event.key)  # not answered: the redelivery may take it at once
            raise
        return outcome

    def _answer(self, event: Event, deadline: Deadline, spent: int, sent: list) -> str:
        """A fixed reply where one fits; else spend limit → typing → history → prompt → model
        → send. `spent`: the person's model calls in this window, this one counted; `sent`
        collects the parts that went out."""
        s = self.settings
        canned = self._canned(event)
        if canned is not None:
            if not canned:
                return "quiet (that reply is turned off)"
            return self._deliver(event, canned, "canned", deadline, sent)
        if spent > s.spend_limit:
            if spent > s.spend_limit + 1 or not s.spend_limit_reply:
                return "silent (over the spend limit, notice sent or turned off)"
            return self._deliver(event, s.spend_limit_reply, "spend notice", deadline, sent)
        # Only the send may use the reserve: history and the model end before it.
        before_send = deadline.minus(s.send_reserve_seconds)
        typing = self._typing_pool.submit(self._typing, event)
        history, source = self.history.recall(event, before_send)
        welcome = self._is_get_started(event)
        messages = prompt.build(
            event,
            history,
            system_prompt=s.page_prompts.get(event.page_id, s.system_prompt),
            knowledge=s.page_knowledge.get(event.page_id, s.knowledge),
            limit=s.history_messages,
            max_age_hours=s.history_max_age_hours,
            now=datetime.now(UTC),
            note=prompt.note(event, welcome=welcome),
            images=s.model_accepts_images,
        )
        reply, made_by, usage = self._reply(event, messages, before_send)
        metrics.count_tokens(event.page_id, self.model.model, usage, s.openai_prices)
        if made_by == "model":
            reply = render.to_text(reply)  # Messenger shows Markdown as raw symbols
        _after(typing)  # the indicator must not arrive after the reply
        earlier = sum(1 for m in messages[:-1] if m["role"] != "system")
        told = said_before(history, s.ai_disclosure)
        outcome = self._deliver(
            event, reply, made_by, deadline, sent, told, history=earlier, history_from=source
        )
        return f"{outcome} {usage}"

    def _canned(self, event: Event) -> str | None:
        """The configured reply for what the model is not asked about ("" when that reply is
        turned off); None for the model."""
        s = self.settings
        if self._is_get_started(event) and s.welcome_message:
            return s.welcome_message
        if event.kind != ATTACHMENT:
            return None
        if event.sticker:
            return s.sticker_reply
        if event.images:
            return None if s.model_accepts_images else s.image_reply
        return s.attachment_reply

    def _is_get_started(self, event: Event) -> bool:
        """The Get Started button: the first tap of a new conversation."""
        return event.kind == POSTBACK and event.payload == self.settings.get_started_payload

    def _deliver(
        self,
        event: Event,
        reply: str,
        source: str,
        deadline: Deadline,
        sent: list,
        told: bool | None = None,
        **extra,
    ) -> str:
        """Disclose the AI where due (`told`: whether the conversation already heard it, when
        the caller knows), split, send in order, keep what went out, and say how it went."""
        disclosure = self.settings.ai_disclosure
        if told is None and disclosure:
            told = self.history.told(event, disclosure)
        if disclosure and (self._is_get_started(event) or not told):
            reply = f"{disclosure}\n\n{reply}"
            extra["disclosed"] = "yes"
        parts = text.split(reply)
        went, failure = self._send(event, parts, deadline)
        sent.extend(went)
        if failure is not None and not went and failure.sent is False and failure.transient:
            # Nothing went out, provably, and trying later may work: ask Meta again rather
            # than acknowledge a message nobody answered.
            raise Redeliver(f"no reply could be sent: {failure}")
        if len(went) < len(parts):
            return f"send failed after {len(went)}/{len(parts)} parts ({source})"
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
            metrics.MODEL_ERRORS.labels(self.model.model, exc.kind).inc()
            return self.settings.fallback_reply, "fallback", exc.usage
        return answer.text, "model", answer.usage

    def _send(
        self, event: Event, parts: list[str], deadline: Deadline
    ) -> tuple[list[tuple[str, str]], GraphError | None]:
        """Send the parts in order, each after the previous succeeded; return Meta's id and the
        text of each part that went out, and the error that stopped the rest."""
        sent = []
        for index, part in enumerate(parts):
            try:
                mid = self.graph.send_text(event.page_id, event.person_id, part, deadline)
            except GraphError as exc:
                log.error("send failed mid=%s part=%d: %s", event.mid, index + 1, exc)
                return sent, exc
            sent.append((mid, part))
        return sent, None


def _after(typing: Future) -> None:
    """Drop a typing indicator that has not started; let one under way finish first."""
    if not typing.cancel():
        wait([typing], timeout=TYPING_SECONDS)
